"""What a fine-tuning run measured: per-epoch results, the final report, its text.

Why apart from the run: ``manage.py train_clip`` and the benchmark read and print
these, and ``validation_report`` is the one place that decides how a model's
validation cosines become the metrics saved in ``catalog_clip.json``.

Pure core: no Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from training.evaluation import EvaluationReport, evaluate_scores, format_evaluation


@dataclass(frozen=True)
class EpochResult:
    epoch: int
    global_step: int
    train_loss: float
    val_loss: float
    val_roc_auc: float


@dataclass
class FineTuneReport:
    """What a run produced. ``evaluation`` is the best model's, on the validation rows."""

    output_dir: Path
    best_model_dir: Path
    final_model_dir: Path
    base_model: str
    global_step: int
    total_steps: int
    resumed_from_step: int | None
    initial_val_loss: float
    initial_val_roc_auc: float
    epochs: list[EpochResult]
    best_epoch: int
    threshold: float
    evaluation: EvaluationReport
    metrics: dict[str, Any] = field(default_factory=dict)  # as in best_model's catalog_clip.json
    training_summary: dict[str, Any] = field(default_factory=dict)

    @property
    def improved(self) -> bool:
        """Whether the best epoch beat the base model's validation ROC-AUC."""
        return self.evaluation.roc_auc > self.initial_val_roc_auc


def validation_report(labels: Sequence[bool], cosines: np.ndarray) -> EvaluationReport:
    """Metrics at the best-F1 threshold on the ``similarity_score`` scale.

    ROC-AUC is computed on the raw cosine: clipping to [0, 1] ties every
    negative cosine at 0, which blurs the ranking a model selection relies on.
    """
    scores = np.clip(cosines, 0.0, 1.0)
    chosen = evaluate_scores(labels, scores, threshold=0.5).best_f1_threshold
    report = evaluate_scores(labels, scores, threshold=chosen)
    return replace(report, roc_auc=float(roc_auc_score(np.asarray(labels, bool), cosines)))


def format_fine_tune_report(report: FineTuneReport) -> str:
    """Plain text for the terminal: loss and ROC-AUC per epoch, the best model, a warning
    when fine-tuning did not beat the base model."""
    lines = [
        f"Base model: {report.base_model}",
        f"Steps: {report.global_step}/{report.total_steps}"
        + (
            f" (resumed from step {report.resumed_from_step})"
            if report.resumed_from_step is not None
            else ""
        ),
        f"Before training: val loss {report.initial_val_loss:.4f}, "
        f"val ROC-AUC {report.initial_val_roc_auc:.4f}",
    ]
    lines += [
        f"Epoch {epoch.epoch}: train loss {epoch.train_loss:.4f}, val loss {epoch.val_loss:.4f}, "
        f"val ROC-AUC {epoch.val_roc_auc:.4f}"
        for epoch in report.epochs
    ]
    lines += [
        f"Best epoch: {report.best_epoch}; threshold {report.threshold:.4f} "
        "(best F1 on validation)",
        format_evaluation(report.evaluation),
        f"Best model: {report.best_model_dir}",
        f"Final model: {report.final_model_dir}",
    ]
    if not report.improved:
        lines.append(
            "Warning: fine-tuning did not beat the base model's validation ROC-AUC; "
            "do not activate this model."
        )
    return "\n".join(lines)
