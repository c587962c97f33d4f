"""CLIP judgement of image–text pairs from their image embeddings: one code path for all.

The worker (``pipeline.compute``) and the batch-score endpoint both call
``judge``: similarity, the match decision at the model's threshold, the
calibrated P(match), the optional zero-shot category and the attribute
explanation. Pure core: a ``ClipService``, tensors and numbers in, dataclasses out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from clipanalysis.clip_service import ClipService, cosine_to_score
from clipanalysis.explanation import explain


@dataclass(frozen=True)
class ScoringOptions:
    """How a model version judges: its threshold and calibration, and what to add."""

    threshold: float
    calibration: Mapping[str, Any] | None = None
    zero_shot_labels: Sequence[str] = ()
    explain_families: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Judgement:
    similarity_score: float
    threshold: float
    is_match: bool
    match_probability: float | None
    zero_shot_results: dict[str, float] | None
    explanation: dict[str, dict] | None

    def result_fields(self) -> dict[str, Any]:
        """The ``AnalysisResult`` fields this judgement fills."""
        zero_shot = self.zero_shot_results
        return {
            "similarity_score": self.similarity_score,
            "threshold": self.threshold,
            "is_match": self.is_match,
            "match_probability": self.match_probability,
            "zero_shot_results": zero_shot,
            "zero_shot_label": next(iter(zero_shot), "") if zero_shot else "",
            "explanation": self.explanation,
        }


def calibrated_probability(calibration: Mapping[str, Any] | None, score: float) -> float | None:
    """P(match) from a logistic calibration on reviewer verdicts; None when there is none."""
    if not calibration:
        return None
    logit = calibration["coef"] * score + calibration["intercept"]
    return float(1.0 / (1.0 + np.exp(-logit)))


def judge(
    service: ClipService,
    image_embeddings: torch.Tensor,
    descriptions: Sequence[str],
    options: ScoringOptions,
) -> list[Judgement]:
    """Judge each image embedding (row ``i``) against ``descriptions[i]``."""
    if len(image_embeddings) != len(descriptions):
        raise ValueError(f"{len(image_embeddings)} images but {len(descriptions)} texts")
    if not descriptions:
        return []
    texts = service.text_embeddings(list(descriptions))
    scores = cosine_to_score((image_embeddings.float() * texts).sum(dim=-1)).tolist()
    judgements = []
    for embedding, description, score in zip(image_embeddings, descriptions, scores, strict=True):
        zero_shot = (
            service.zero_shot_classify(embedding, list(options.zero_shot_labels))
            if options.zero_shot_labels
            else None
        )
        explanation = (
            explain(service, embedding, description, options.explain_families)
            if options.explain_families
            else None
        )
        judgements.append(
            Judgement(
                similarity_score=float(score),
                threshold=options.threshold,
                is_match=score >= options.threshold,
                match_probability=calibrated_probability(options.calibration, score),
                zero_shot_results=zero_shot,
                explanation=explanation,
            )
        )
    return judgements
