"""Two models on the same labelled pairs: metrics per slice, bootstrap intervals, a verdict.

Why: "is the candidate better than the model serving now?" needs more than one
ROC-AUC. A fine-tune can gain on the attribute its verdicts were about and
lose on another; the overall figure hides it. So both models are scored on the
same pairs, and for the whole set and every slice (review reason, category,
kind of mismatch) this module reports ROC-AUC with a bootstrap 95 % interval,
precision and recall at each model's own threshold, and the candidate's change
with a *paired* bootstrap interval (the same resampled pairs for both models).

``compare_scores`` decides as the activation guard does: refuse when the
candidate is worse overall, or loses more than ``margin`` ROC-AUC on a slice
with at least ``min_slice`` pairs of both kinds, or when there are too few
held-out pairs to tell at all.

Slices: for ``mismatch kind`` a slice is every match plus the mismatches of
that kind (as the synthetic evaluation's per-type ROC-AUC); for the other
families (``category``, ``reason``) it is the pairs of that value.

Pure core: numpy and scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import precision_score, recall_score, roc_curve

from catalog.imaging import decode_image
from clipanalysis.clip_service import ClipService

KIND_FAMILY = "mismatch kind"  # slices of this family share the matches
BOOTSTRAP_ROUNDS = 200
CONFIDENCE = 0.95


@dataclass(frozen=True)
class SliceComparison:
    """One slice: both models' ROC-AUC (with intervals) and the candidate's change."""

    name: str
    n: int
    n_match: int
    n_mismatch: int
    active_auc: float
    candidate_auc: float
    active_ci: tuple[float, float]
    candidate_ci: tuple[float, float]
    delta_ci: tuple[float, float]
    judged: bool  # enough pairs of both kinds for the guard to hold it against the candidate

    @property
    def delta(self) -> float:
        return self.candidate_auc - self.active_auc


@dataclass
class Comparison:
    """The side-by-side table and what the guard concludes from it."""

    active_model: str
    candidate_model: str
    active_threshold: float
    candidate_threshold: float
    overall: SliceComparison
    slices: list[SliceComparison]
    at_threshold: dict[str, dict[str, float]]  # model → precision, recall at its threshold
    margin: float
    min_slice: int
    accepted: bool
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-friendly (NaN becomes None), for the activation record and reports."""

        def clean(value):
            if isinstance(value, float) and math.isnan(value):
                return None
            if isinstance(value, dict):
                return {key: clean(item) for key, item in value.items()}
            if isinstance(value, list | tuple):
                return [clean(item) for item in value]
            return value

        data = asdict(self)
        data["overall"]["delta"] = self.overall.delta
        for row, item in zip(data["slices"], self.slices, strict=True):
            row["delta"] = item.delta
        return clean(data)


def cosine_scores(service: ClipService, image_paths: Sequence[str | Path], texts: Sequence[str]):
    """The raw cosine of every (image, text) pair, decoding ``service.batch_size`` at a time.

    Raw cosines, not the clipped ``similarity_score``: clipping ties every negative
    cosine at 0, which blurs the ranking ROC-AUC measures.
    """
    cosines: list[np.ndarray] = []
    step = max(1, service.batch_size)
    for start in range(0, len(texts), step):
        images = [decode_image(path).image for path in image_paths[start : start + step]]
        image_embeddings = service.image_embeddings(images)
        text_embeddings = service.text_embeddings(list(texts[start : start + step]))
        cosines.append((image_embeddings * text_embeddings).sum(dim=-1).numpy())
    return np.concatenate(cosines).astype(np.float64) if cosines else np.zeros(0)


def slice_members(labels: np.ndarray, slices: Sequence[Mapping[str, str]]) -> dict[str, np.ndarray]:
    """Slice name (``family=value``) → boolean mask over the pairs."""
    members: dict[str, np.ndarray] = {}
    families = sorted({family for pair in slices for family in pair})
    for family in families:
        values = np.array([pair.get(family, "") for pair in slices], dtype=object)
        for value in sorted({value for value in values if value}):
            mask = values == value
            if family == KIND_FAMILY:
                if value == "match":
                    continue
                mask = mask | labels
            members[f"{family}={value}"] = mask
    return members


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic (ties count a half): equal to scikit-learn's
    ``roc_auc_score``, without its input checks, which dominate a bootstrap's time."""
    if labels.all() or not labels.any():
        return math.nan
    ranks = rankdata(scores)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _interval(values: list[float]) -> tuple[float, float]:
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return (math.nan, math.nan)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return (float(low), float(high))


def compare_slice(
    name: str,
    labels: np.ndarray,
    active: np.ndarray,
    candidate: np.ndarray,
    rng: np.random.Generator,
    min_slice: int,
    rounds: int = BOOTSTRAP_ROUNDS,
) -> SliceComparison:
    """Both models' ROC-AUC on one slice, with percentile and paired-bootstrap intervals."""
    n = len(labels)
    a_runs, c_runs, d_runs = [], [], []
    for _ in range(rounds if n else 0):
        pick = rng.integers(0, n, n)
        a, c = _auc(labels[pick], active[pick]), _auc(labels[pick], candidate[pick])
        a_runs.append(a)
        c_runs.append(c)
        d_runs.append(c - a)
    n_match = int(labels.sum())
    return SliceComparison(
        name=name,
        n=n,
        n_match=n_match,
        n_mismatch=n - n_match,
        active_auc=_auc(labels, active),
        candidate_auc=_auc(labels, candidate),
        active_ci=_interval(a_runs),
        candidate_ci=_interval(c_runs),
        delta_ci=_interval(d_runs),
        judged=n >= min_slice and 0 < n_match < n,
    )


def compare_scores(
    labels: Sequence[bool],
    active_scores: Sequence[float],
    candidate_scores: Sequence[float],
    slices: Sequence[Mapping[str, str]],
    *,
    active_model: str = "active",
    candidate_model: str = "candidate",
    active_threshold: float = 0.25,
    candidate_threshold: float = 0.25,
    margin: float = 0.02,
    min_slice: int = 30,
    min_pairs: int = 20,
    seed: int = 0,
    rounds: int = BOOTSTRAP_ROUNDS,
) -> Comparison:
    """Compare two models' scores of the same pairs (see the module docstring)."""
    truth = np.asarray(labels, dtype=bool)
    active = np.asarray(active_scores, dtype=np.float64)
    candidate = np.asarray(candidate_scores, dtype=np.float64)
    if not truth.shape == active.shape == candidate.shape or len(slices) != truth.size:
        raise ValueError("labels, both models' scores and slices must have one entry per pair.")
    rng = np.random.default_rng(seed)
    overall = compare_slice("overall", truth, active, candidate, rng, min_pairs, rounds)
    rows = [
        compare_slice(name, truth[mask], active[mask], candidate[mask], rng, min_slice, rounds)
        for name, mask in slice_members(truth, slices).items()
    ]
    at_threshold = {}
    for model, scores, threshold in (
        (active_model, active, active_threshold),
        (candidate_model, candidate, candidate_threshold),
    ):
        predicted = np.clip(scores, 0.0, 1.0) >= threshold
        at_threshold[model] = {
            "threshold": float(threshold),
            "precision": float(precision_score(truth, predicted, zero_division=0))
            if truth.size
            else math.nan,
            "recall": float(recall_score(truth, predicted, zero_division=0))
            if truth.size
            else math.nan,
        }
    reasons = []
    if not overall.judged:
        reasons.append(
            f"Too few held-out pairs to compare: {overall.n} ({overall.n_match} match, "
            f"{overall.n_mismatch} mismatch); at least {min_pairs} of both kinds are needed."
        )
    elif overall.delta < 0:
        reasons.append(
            f"Worse overall: ROC-AUC {overall.candidate_auc:.3f} vs {overall.active_auc:.3f}."
        )
    for row in rows:
        if row.judged and row.delta < -margin:
            reasons.append(
                f"Loses {-row.delta:.3f} ROC-AUC on {row.name} ({row.n} pairs; "
                f"{row.candidate_auc:.3f} vs {row.active_auc:.3f}), more than the margin {margin}."
            )
    return Comparison(
        active_model=active_model,
        candidate_model=candidate_model,
        active_threshold=float(active_threshold),
        candidate_threshold=float(candidate_threshold),
        overall=overall,
        slices=rows,
        at_threshold=at_threshold,
        margin=margin,
        min_slice=min_slice,
        accepted=not reasons,
        reasons=reasons,
    )


# --- presenting ------------------------------------------------------------------------------
def _auc_text(value: float, interval: tuple[float, float]) -> str:
    if math.isnan(value):
        return "n/a"
    low, high = interval
    return f"{value:.3f} [{low:.3f}, {high:.3f}]" if math.isfinite(low) else f"{value:.3f}"


def format_comparison(comparison: Comparison) -> str:
    """The side-by-side table (ROC-AUC with 95 % bootstrap intervals), then the conclusion."""
    width = max([len(row.name) for row in comparison.slices] + [len("overall"), 10]) + 2
    header = (
        f"{'slice':<{width}}{'pairs':>7}{'match':>7}  {'active ROC-AUC':<24}"
        f"{'candidate ROC-AUC':<24}{'change [95% CI]':<26}{'judged':>6}"
    )
    lines = [
        f"Active:    {comparison.active_model}",
        f"Candidate: {comparison.candidate_model}",
        header,
    ]
    for row in [comparison.overall, *comparison.slices]:
        if math.isnan(row.delta):
            change = "n/a"
        else:
            low, high = row.delta_ci
            change = f"{row.delta:+.3f} [{low:+.3f}, {high:+.3f}]"
        lines.append(
            f"{row.name:<{width}}{row.n:>7}{row.n_match:>7}  "
            f"{_auc_text(row.active_auc, row.active_ci):<24}"
            f"{_auc_text(row.candidate_auc, row.candidate_ci):<24}{change:<26}"
            f"{'yes' if row.judged else 'no':>6}"
        )
    for model, values in comparison.at_threshold.items():
        lines.append(
            f"At its threshold {values['threshold']:.4f}, {model}: precision "
            f"{values['precision']:.3f}, recall {values['recall']:.3f}"
        )
    if comparison.accepted:
        lines.append(
            f"Guard: the candidate is no worse overall and loses at most {comparison.margin} "
            f"on every slice with {comparison.min_slice}+ pairs."
        )
    else:
        lines += ["Guard: refused."] + [f"  - {reason}" for reason in comparison.reasons]
    return "\n".join(lines)


def plot_comparison(
    labels: Sequence[bool],
    active_scores: Sequence[float],
    candidate_scores: Sequence[float],
    path: str | Path,
    names: tuple[str, str] = ("active", "candidate"),
) -> Path:
    """One PNG: both ROC curves, and each model's match / mismatch score histograms.

    matplotlib's object API on the Agg canvas: no pyplot state (safe in a worker).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    truth = np.asarray(labels, dtype=bool)
    figure = Figure(figsize=(15, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    roc, *histograms = figure.subplots(1, 3)
    for name, scores, axes in zip(
        names, (active_scores, candidate_scores), histograms, strict=True
    ):
        values = np.asarray(scores, dtype=np.float64)
        if truth.any() and not truth.all():
            false_positive, true_positive, _ = roc_curve(truth, values)
            roc.plot(false_positive, true_positive, label=f"{name} ({_auc(truth, values):.3f})")
        bins = np.linspace(min(-0.1, values.min()), max(1.0, values.max()), 41)
        axes.hist(values[truth], bins=bins, alpha=0.6, label=f"match ({truth.sum()})")
        axes.hist(values[~truth], bins=bins, alpha=0.6, label=f"mismatch ({(~truth).sum()})")
        axes.set(title=f"{name}: scores", xlabel="cosine similarity", ylabel="pairs")
        axes.legend()
    roc.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance")
    roc.set(title="ROC curves", xlabel="false positive rate", ylabel="true positive rate")
    roc.legend(loc="lower right")
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, format="png", dpi=100)
    return output
