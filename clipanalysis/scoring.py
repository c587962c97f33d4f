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

from clipanalysis.claims import Family
from clipanalysis.clip_service import ZERO_SHOT_TEMPLATES, ClipService, cosine_to_score
from clipanalysis.explanation import (
    DEFAULT_CONFLICT_CONFIDENCE,
    DEFAULT_PROBE,
    explain,
    value_probabilities,
)


@dataclass(frozen=True)
class ScoringOptions:
    """How a model version judges: its threshold and calibration, and what to add.

    ``explain_families`` maps a family name to its ``Family`` (terms, synonyms,
    prompt templates) or to plain values; ``conflict_confidence`` is how sure
    the explanation must be that the stated value is wrong to call a conflict;
    ``attribute_probe`` how the explanation ranks values (``screened``,
    ``counterfactual`` or ``templates``, see ``clipanalysis.explanation``).
    """

    threshold: float
    calibration: Mapping[str, Any] | None = None
    zero_shot_labels: Sequence[str] = ()
    zero_shot_templates: Sequence[str] = ZERO_SHOT_TEMPLATES
    explain_families: Mapping[str, Sequence[str] | Family] = field(default_factory=dict)
    conflict_confidence: float = DEFAULT_CONFLICT_CONFIDENCE
    attribute_probe: str = DEFAULT_PROBE


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


def zero_shot_ranking(
    service: ClipService, image_embedding: torch.Tensor, options: ScoringOptions
) -> dict[str, float] | None:
    """P(category) over ``zero_shot_labels``, highest first; prompts cached per model."""
    if not options.zero_shot_labels:
        return None
    labels = Family.of("zero-shot", list(dict.fromkeys(options.zero_shot_labels)))
    labels = Family(labels.name, labels.terms, tuple(options.zero_shot_templates))
    probabilities = value_probabilities(service, image_embedding, labels)
    return dict(sorted(probabilities.items(), key=lambda pair: -pair[1]))


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
        zero_shot = zero_shot_ranking(service, embedding, options)
        explanation = (
            explain(
                service,
                embedding,
                description,
                options.explain_families,
                options.conflict_confidence,
                options.attribute_probe,
                flagged=score < options.threshold,
            )
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
