"""How well a model's scores separate matching from mismatched image–text pairs.

Why: choosing a model version and its threshold needs the same numbers every
time (training's validation, ``evaluate_model``): ROC-AUC (threshold-free),
precision/recall/F1/accuracy at the threshold in use, the threshold that
maximises F1, and optionally the lowest threshold that reaches a target
precision. All come from ``sklearn.metrics``.

Conventions: ``labels`` are True for a match; a pair is predicted a match when
``score >= threshold`` (as ``ClipService`` decides); precision and recall are
those of the *match* decision, so ``threshold_for_target_precision`` is the
threshold at which that share of auto-accepted pairs really match, while
accepting as many matches as possible. A chosen threshold lies midway between
the cut score and the next lower score, so tiny numeric differences (another
dtype, another machine) do not flip the pair on the edge.

Pure core: no Django.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from clipanalysis.batch_scoring import score_rows
from clipanalysis.clip_service import ClipService
from clipanalysis.csv_format import read_training_csv


@dataclass(frozen=True)
class EvaluationReport:
    """Metrics of one set of scores; ``roc_auc`` is NaN when only one class is present."""

    n: int
    n_match: int
    n_mismatch: int
    roc_auc: float
    threshold: float
    precision: float
    recall: float
    f1: float
    accuracy: float
    best_f1_threshold: float
    best_f1: float
    target_precision: float | None = None
    threshold_for_target_precision: float | None = None

    def as_dict(self) -> dict:
        """JSON-friendly (NaN becomes None), for ``catalog_clip.json`` and the registry."""
        return {
            key: (None if isinstance(value, float) and math.isnan(value) else value)
            for key, value in asdict(self).items()
        }


def evaluate_scores(
    labels: Sequence[bool],
    scores: Sequence[float],
    threshold: float,
    target_precision: float | None = None,
) -> EvaluationReport:
    """Metrics of ``scores`` against ``labels`` (True = match) at ``threshold``."""
    truth = np.asarray(labels, dtype=bool)
    values = np.asarray(scores, dtype=np.float64)
    if truth.shape != values.shape or truth.ndim != 1:
        raise ValueError(f"{truth.size} labels but {values.size} scores.")
    if truth.size == 0:
        raise ValueError("Nothing to evaluate: no scores.")
    if target_precision is not None and not 0.0 < target_precision <= 1.0:
        raise ValueError("target_precision must be above 0 and at most 1.")
    predicted = values >= threshold
    both_classes = truth.any() and not truth.all()
    best_threshold, best_f1 = _best_f1_threshold(truth, values)
    return EvaluationReport(
        n=int(truth.size),
        n_match=int(truth.sum()),
        n_mismatch=int((~truth).sum()),
        roc_auc=float(roc_auc_score(truth, values)) if both_classes else math.nan,
        threshold=float(threshold),
        precision=float(precision_score(truth, predicted, zero_division=0)),
        recall=float(recall_score(truth, predicted, zero_division=0)),
        f1=float(f1_score(truth, predicted, zero_division=0)),
        accuracy=float(accuracy_score(truth, predicted)),
        best_f1_threshold=best_threshold,
        best_f1=best_f1,
        target_precision=target_precision,
        threshold_for_target_precision=(
            None
            if target_precision is None
            else _threshold_for_precision(truth, values, target_precision)
        ),
    )


def _best_f1_threshold(truth: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    if not truth.any():
        return math.nan, 0.0  # no matches: F1 is 0 at every threshold
    precision, recall, cuts = precision_recall_curve(truth, values)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall,
        denominator,
        out=np.zeros_like(denominator),
        where=denominator > 0,
    )
    best = int(np.argmax(f1))
    return _midway_below(values, float(cuts[best])), float(f1[best])


def _threshold_for_precision(truth: np.ndarray, values: np.ndarray, target: float) -> float | None:
    """The lowest cut (most matches accepted) whose precision reaches ``target``."""
    if not truth.any():
        return None
    precision, _recall, cuts = precision_recall_curve(truth, values)
    reaching = np.flatnonzero(precision[:-1] >= target)
    if reaching.size == 0:
        return None
    return _midway_below(values, float(cuts[reaching[0]]))


def _midway_below(values: np.ndarray, cut: float) -> float:
    below = values[values < cut]
    return float((cut + below.max()) / 2) if below.size else cut


# --- evaluating a CSV ---------------------------------------------------------------------
def evaluate_csv(
    service: ClipService,
    csv_path: str | Path,
    root_dir: str | Path,
    *,
    threshold: float | None = None,
    target_precision: float | None = None,
    plot_path: str | Path | None = None,
) -> EvaluationReport:
    """Score a labelled CSV with ``service`` and evaluate at ``threshold`` (default: the
    service's); optionally write the plot. Raises ``CsvValidationError`` for a broken file."""
    rows = read_training_csv(csv_path, root_dir)
    labels = [row.is_match for row in rows]
    scores = score_rows(service, rows, service.batch_size)
    limit = service.threshold if threshold is None else threshold
    report = evaluate_scores(labels, scores, limit, target_precision)
    if plot_path is not None:
        plot_evaluation(report, labels, scores, plot_path)
    return report


# --- presenting ------------------------------------------------------------------------------
def format_evaluation(report: EvaluationReport) -> str:
    """A short plain-text summary for the terminal."""
    lines = [
        f"Pairs: {report.n} ({report.n_match} match, {report.n_mismatch} mismatch)",
        f"ROC-AUC: {_number(report.roc_auc)}",
        f"At threshold {report.threshold:.4f}: precision {report.precision:.3f}, "
        f"recall {report.recall:.3f}, F1 {report.f1:.3f}, accuracy {report.accuracy:.3f}",
        f"Best-F1 threshold: {_number(report.best_f1_threshold)} (F1 {report.best_f1:.3f})",
    ]
    if report.target_precision is not None:
        found = report.threshold_for_target_precision
        lines.append(
            f"Threshold for precision >= {report.target_precision:.3f}: "
            + (f"{found:.4f}" if found is not None else "not reachable on this data")
        )
    return "\n".join(lines)


def _number(value: float) -> str:
    return "n/a (needs both match and mismatch pairs)" if math.isnan(value) else f"{value:.4f}"


def plot_evaluation(
    report: EvaluationReport,
    labels: Sequence[bool],
    scores: Sequence[float],
    path: str | Path,
) -> Path:
    """Write a PNG: score histograms of match vs mismatch pairs, and the ROC curve.

    Uses matplotlib's object API with the Agg canvas, so no global backend or
    pyplot state is touched (safe inside a web process).
    """
    # Imported here: matplotlib is slow to import and only plotting needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    truth = np.asarray(labels, dtype=bool)
    values = np.asarray(scores, dtype=np.float64)
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    histogram, roc = figure.subplots(1, 2)

    bins = np.linspace(min(0.0, values.min()), max(1.0, values.max()), 41)
    histogram.hist(values[truth], bins=bins, alpha=0.6, label=f"match ({truth.sum()})")
    histogram.hist(values[~truth], bins=bins, alpha=0.6, label=f"mismatch ({(~truth).sum()})")
    histogram.axvline(report.threshold, color="black", linestyle="--", label="threshold")
    if math.isfinite(report.best_f1_threshold):
        histogram.axvline(
            report.best_f1_threshold, color="tab:green", linestyle=":", label="best-F1 threshold"
        )
    histogram.set(title="Score distributions", xlabel="similarity score", ylabel="pairs")
    histogram.legend()

    if truth.any() and not truth.all():
        false_positive, true_positive, _cuts = roc_curve(truth, values)
        roc.plot(false_positive, true_positive, label=f"ROC-AUC {report.roc_auc:.3f}")
    roc.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance")
    roc.set(
        title="ROC curve",
        xlabel="false positive rate",
        ylabel="true positive rate",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    roc.legend(loc="lower right")

    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, format="png", dpi=100)
    return output
