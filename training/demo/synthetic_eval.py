"""How well a CLIP checkpoint separates matching from mismatched synthetic listings.

Why: the synthetic catalog knows the truth of every pair, so ROC-AUC can be
measured per kind of mismatch — a model that catches wrong categories but not
wrong colours shows it here. Used by the demo-model build (to choose its
threshold) and by ``evaluate_model --synthetic``.

Pure core: takes a ``ClipService``, returns a dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch
from sklearn.metrics import roc_auc_score, roc_curve
from tqdm.auto import tqdm

from clipanalysis.clip_service import ClipService, cosine_to_score
from training.demo.catalog import DEFAULT_IMAGE_SIZE, MISMATCH_TYPES, make_pairs


@dataclass(frozen=True)
class SyntheticEvaluation:
    """ROC-AUCs (overall and per mismatch type) and accuracy at one threshold.

    ``scores`` are ``similarity_score`` values (cosine clipped to [0, 1]);
    AUCs are computed on the raw ``cosines`` so clipped ties do not blur them.
    ``labels`` are 1 for a matching pair, 0 for a mismatch.
    """

    n: int
    seed: int
    overall_auc: float
    auc_by_type: dict[str, float]
    accuracy_at_threshold: float
    threshold: float
    scores: np.ndarray = field(repr=False)
    cosines: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    mismatch_types: tuple[str | None, ...] = field(repr=False)

    def at_threshold(self, threshold: float) -> SyntheticEvaluation:
        """The same evaluation judged at another threshold."""
        return replace(
            self,
            threshold=float(threshold),
            accuracy_at_threshold=accuracy_at(self.scores, self.labels, threshold),
        )

    def auc_excluding(self, *kinds: str) -> float:
        """Overall ROC-AUC leaving out mismatches of ``kinds``: e.g. pattern swaps, which
        the demo model is deliberately taught only faintly."""
        keep = np.array([kind not in kinds for kind in self.mismatch_types], dtype=bool)
        return _auc(self.labels[keep], self.cosines[keep])

    def as_dict(self) -> dict:
        """JSON-friendly summary (no per-pair arrays), for ``catalog_clip.json``."""
        return {
            "n": self.n,
            "seed": self.seed,
            "overall_auc": round(self.overall_auc, 4),
            "auc_by_type": {kind: round(auc, 4) for kind, auc in self.auc_by_type.items()},
            "overall_auc_without_pattern": round(self.auc_excluding("pattern"), 4),
            "accuracy_at_threshold": round(self.accuracy_at_threshold, 4),
            "threshold": round(self.threshold, 4),
        }


def accuracy_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """Share of pairs judged right when ``score >= threshold`` means "match"."""
    if len(labels) == 0:
        return float("nan")
    return float(((scores >= threshold) == (labels == 1)).mean())


def _auc(labels: np.ndarray, values: np.ndarray) -> float:
    """ROC-AUC, or NaN when only one class is present (too few pairs)."""
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, values))


def choose_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The ``similarity_score`` threshold maximising Youden's J (TPR − FPR).

    The midpoint between the two scores that bracket the best cut, so a
    slightly different image does not fall on the wrong side by rounding.
    """
    if len(np.unique(labels)) < 2:
        raise ValueError("Choosing a threshold needs both matches and mismatches.")
    false_positive, true_positive, cuts = roc_curve(labels, scores)
    best = int(np.argmax(true_positive - false_positive))
    cut = float(min(cuts[best], 1.0))
    below = scores[scores < cut]
    return float((cut + below.max()) / 2) if len(below) else cut


def evaluate_on_synthetic(
    service: ClipService,
    seed: int,
    n: int,
    threshold: float | None = None,
    *,
    mismatch_rate: float = 0.5,
    image_size: int = DEFAULT_IMAGE_SIZE,
    progress: bool = False,
) -> SyntheticEvaluation:
    """Score ``n`` fresh synthetic pairs (from ``seed``) with ``service``.

    Per-type AUC compares all matches with the mismatches of that type only.
    ``threshold=None`` judges accuracy at ``service.threshold``. ``progress`` shows
    tqdm bars on stderr for rendering and for scoring the pairs (seconds on a shared CPU).
    """
    pairs = make_pairs(
        n,
        seed,
        mismatch_rate=mismatch_rate,
        image_size=image_size,
        progress="rendering held-out pairs" if progress else None,
    )
    # One service batch at a time, images and texts together: the bar moves per batch,
    # and the service's text cache may be cleared between calls, never inside one batch.
    step = max(1, service.batch_size)
    image_chunks, text_chunks = [], []
    with tqdm(total=n, disable=not progress, desc="scoring held-out pairs", unit="pair") as bar:
        for start in range(0, n, step):
            batch = pairs[start : start + step]
            image_chunks.append(service.image_embeddings([pair.image for pair in batch]))
            text_chunks.append(service.text_embeddings([pair.text for pair in batch]))
            bar.update(len(batch))
    empty = torch.empty(0, service.embedding_dim)
    images = torch.cat(image_chunks) if image_chunks else empty
    text_embeddings = torch.cat(text_chunks) if text_chunks else empty
    cosines = (images * text_embeddings).sum(dim=-1).numpy()
    scores = np.asarray(cosine_to_score(cosines), dtype=np.float64)
    cosines = np.asarray(cosines, dtype=np.float64)
    labels = np.array([int(pair.is_match) for pair in pairs])
    kinds = tuple(pair.mismatch_type for pair in pairs)
    by_type = {}
    for kind in MISMATCH_TYPES:
        chosen = np.array([k is None or k == kind for k in kinds], dtype=bool)
        by_type[kind] = _auc(labels[chosen], cosines[chosen])
    limit = service.threshold if threshold is None else threshold
    return SyntheticEvaluation(
        n=n,
        seed=seed,
        overall_auc=_auc(labels, cosines),
        auc_by_type=by_type,
        accuracy_at_threshold=accuracy_at(scores, labels, limit),
        threshold=float(limit),
        scores=scores,
        cosines=cosines,
        labels=labels,
        mismatch_types=kinds,
    )


def format_report(evaluation: SyntheticEvaluation) -> str:
    """A plain-text table: pair counts, AUC per mismatch type, accuracy at the threshold."""
    kinds = np.array([kind or "match" for kind in evaluation.mismatch_types])
    scores = evaluation.scores
    lines = [
        f"Synthetic evaluation: {evaluation.n} pairs, seed {evaluation.seed}",
        f"{'pairs':<14}{'count':>7}{'ROC-AUC':>10}{'mean score':>12}",
    ]
    matches = kinds == "match"
    lines.append(f"{'match':<14}{int(matches.sum()):>7}{'':>10}{_mean(scores[matches]):>12.3f}")
    for kind, auc in evaluation.auc_by_type.items():
        chosen = kinds == kind
        lines.append(f"{kind:<14}{int(chosen.sum()):>7}{auc:>10.3f}{_mean(scores[chosen]):>12.3f}")
    lines.append(f"{'overall':<14}{evaluation.n:>7}{evaluation.overall_auc:>10.3f}")
    without = int((kinds != "pattern").sum())
    lines.append(f"{'excl. pattern':<14}{without:>7}{evaluation.auc_excluding('pattern'):>10.3f}")
    lines.append(
        f"Accuracy at threshold {evaluation.threshold:.3f}: {evaluation.accuracy_at_threshold:.1%}"
    )
    return "\n".join(lines)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")
