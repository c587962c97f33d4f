"""One fine-tuning run's state and steps: train, validate, save, checkpoint, resume.

Why apart from ``training.finetune``: that module decides the order of the
steps (see its docstring); this one holds what each step does with the model,
the rows and the output directory, and what a checkpoint must remember to
resume exactly where a run stopped.

Pure core: no Django.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import CLIPModel, CLIPProcessor

from catalog.imaging import decode_image
from clipanalysis.clip_service import ClipService, normalised_features
from clipanalysis.csv_format import TrainingRow
from clipanalysis.model_metadata import METADATA_FILENAME, read_model_metadata, write_model_metadata
from training.checkpoints import (
    CHECKPOINT_PREFIX,
    prune_checkpoints,
    read_checkpoint_progress,
    restore_checkpoint,
    save_checkpoint,
    save_model_dir,
)
from training.evaluation import EvaluationReport
from training.finetune_config import FineTuneConfig
from training.finetune_data import model_inputs, summarise_rows
from training.finetune_report import EpochResult, FineTuneReport, validation_report
from training.losses import verdict_loss
from training.optim import optimizer_step

logger = logging.getLogger(__name__)

BEST_MODEL_DIR = "best_model"
FINAL_MODEL_DIR = "final_model"


def batch_loss(model, processor, rows, device, config: FineTuneConfig) -> torch.Tensor:
    pixels, tokens = model_inputs(processor, rows, device)
    images = normalised_features(model.get_image_features(pixel_values=pixels))
    texts = normalised_features(
        model.get_text_features(
            input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
        )
    )
    is_match = torch.tensor([row.is_match for row in rows], device=device)
    loss, _parts = verdict_loss(
        images,
        texts,
        model.logit_scale,
        is_match,
        config.negative_loss_weight,
    )
    return loss


def validate(model, processor, rows, device, config: FineTuneConfig) -> tuple[float, np.ndarray]:
    """Validation loss (same batching as training) and the cosine of every row.

    Scores with a ``ClipService`` around the model being trained, so the
    validation numbers are what serving will see.
    """
    model.eval()
    service = ClipService(
        model_name="fine-tuning",
        model=model,
        processor=processor,
        device=device,
        dtype=torch.float32,
        batch_size=config.batch_size,
    )
    scale = model.logit_scale.detach().float().cpu()
    losses, cosines = [], []
    for start in range(0, len(rows), config.batch_size):
        batch = rows[start : start + config.batch_size]
        images = service.image_embeddings([decode_image(row.image_path).image for row in batch])
        texts = service.text_embeddings([row.text for row in batch])
        loss, _parts = verdict_loss(
            images,
            texts,
            scale,
            torch.tensor([row.is_match for row in batch]),
            config.negative_loss_weight,
        )
        losses.append(float(loss))
        cosines.append((images * texts).sum(dim=-1).numpy())
    model.train()
    return float(np.mean(losses)), np.concatenate(cosines).astype(np.float64)


def anchor_weights(model: CLIPModel) -> dict[str, torch.Tensor]:
    """A detached copy of the trainable weights: the start L2-SP pulls toward."""
    return {
        name: parameter.detach().clone()
        for name, parameter in model.named_parameters()
        if parameter.requires_grad
    }


def anchor_distance(model: CLIPModel, anchor: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of squared differences between the trainable weights and ``anchor``."""
    parameters = dict(model.named_parameters())
    return sum(((parameters[name] - start) ** 2).sum() for name, start in anchor.items())


@dataclass
class RunProgress:
    """What a checkpoint remembers besides weights, optimizer, scheduler and RNG."""

    global_step: int = 0
    initial_val_loss: float = math.nan
    initial_val_roc_auc: float = math.nan
    epochs: list[EpochResult] = field(default_factory=list)
    best_epoch: int = 0
    best_roc_auc: float = -1.0  # below any ROC-AUC
    epoch_losses: list[float] = field(default_factory=list)  # of the epoch under way


@dataclass
class FineTuneRun:
    """One fine-tuning run's fixed parts, so the steps below take few arguments."""

    model: CLIPModel
    processor: CLIPProcessor
    device: torch.device
    config: FineTuneConfig
    output: Path
    train_rows: Sequence[TrainingRow]
    val_rows: Sequence[TrainingRow]
    base_model: str
    fingerprint: str
    total_steps: int
    progress: RunProgress = field(default_factory=RunProgress)
    # The starting weights L2-SP pulls toward (``config.anchor_weight``), by parameter name.
    anchor: dict[str, torch.Tensor] | None = None

    @property
    def summary(self) -> dict[str, Any]:
        return {
            "train": summarise_rows(self.train_rows),
            "val": summarise_rows(self.val_rows),
            "config": asdict(self.config),
            "data_fingerprint": self.fingerprint,
            "total_steps": self.total_steps,
            "epochs": [asdict(result) for result in self.progress.epochs],
            "best_epoch": self.progress.best_epoch,
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def validate(self) -> tuple[float, EvaluationReport]:
        loss, cosines = validate(
            self.model, self.processor, self.val_rows, self.device, self.config
        )
        return loss, validation_report([row.is_match for row in self.val_rows], cosines)

    def train_step(self, batches: list[list[int]], optimizer, scheduler) -> float:
        """One optimizer step over ``batches`` (gradient accumulation); the mean loss."""
        step_loss = 0.0
        for batch in batches:
            rows = [self.train_rows[index] for index in batch]
            loss = batch_loss(self.model, self.processor, rows, self.device, self.config)
            (loss / len(batches)).backward()
            step_loss += float(loss.detach()) / len(batches)
        if self.anchor:
            penalty = self.config.anchor_weight * anchor_distance(self.model, self.anchor)
            penalty.backward()
            step_loss += float(penalty.detach())
        optimizer_step(self.model, optimizer, scheduler, self.config.max_grad_norm)
        self.progress.global_step += 1
        self.progress.epoch_losses.append(step_loss)
        return step_loss

    def end_epoch(self, epoch: int) -> None:
        """Validate; save ``best_model/`` on a new best ROC-AUC, ``final_model/`` at the end."""
        val_loss, report = self.validate()
        number = epoch + 1
        self.progress.epochs.append(
            EpochResult(
                epoch=number,
                global_step=self.progress.global_step,
                train_loss=float(np.mean(self.progress.epoch_losses)),
                val_loss=val_loss,
                val_roc_auc=report.roc_auc,
            )
        )
        self.progress.epoch_losses = []
        logger.info("Epoch %d: val loss %.4f, val ROC-AUC %.4f", number, val_loss, report.roc_auc)
        if report.roc_auc > self.progress.best_roc_auc:
            self.progress.best_roc_auc, self.progress.best_epoch = report.roc_auc, number
            self.save_model(BEST_MODEL_DIR, report, val_loss, number)
        if number == self.config.epochs:
            self.save_model(FINAL_MODEL_DIR, report, val_loss, number)

    def save_model(self, name: str, report: EvaluationReport, val_loss: float, epoch: int):
        metrics = {
            **report.as_dict(),
            "val_loss": val_loss,
            "epoch": epoch,
            "initial_val_roc_auc": self.progress.initial_val_roc_auc,
            "initial_val_loss": self.progress.initial_val_loss,
        }
        save_model_dir(
            self.model,
            self.processor,
            self.output / name,
            model_kind="trained",
            base_model=self.base_model,
            threshold=report.best_f1_threshold,
            metrics=metrics,
            training_summary=self.summary,
        )

    def checkpoint(self, optimizer, scheduler) -> None:
        state = {
            **asdict(self.progress),
            "base_model": self.base_model,
            "config": self.config.run_defining(),
            "data_fingerprint": self.fingerprint,
        }
        directory = self.output / f"{CHECKPOINT_PREFIX}{self.progress.global_step}"
        save_checkpoint(directory, self.model, self.processor, optimizer, scheduler, state)
        prune_checkpoints(self.output, self.config.save_total_limit)
        logger.info("Saved %s", directory)

    def restore(self, checkpoint: Path, optimizer, scheduler) -> None:
        saved = read_checkpoint_progress(checkpoint)
        if saved["config"] != json.loads(json.dumps(self.config.run_defining())):
            raise ValueError(
                f"{checkpoint} was made with other settings ({saved['config']}); "
                "resume with the same configuration or use a new output directory."
            )
        if saved["data_fingerprint"] != self.fingerprint:
            raise ValueError(f"{checkpoint} was made with other training or validation rows.")
        restore_checkpoint(checkpoint, optimizer, scheduler)
        self.base_model = saved["base_model"]
        self.progress = RunProgress(
            global_step=saved["global_step"],
            initial_val_loss=saved["initial_val_loss"],
            initial_val_roc_auc=saved["initial_val_roc_auc"],
            epochs=[EpochResult(**epoch) for epoch in saved["epochs"]],
            best_epoch=saved["best_epoch"],
            best_roc_auc=saved["best_roc_auc"],
            epoch_losses=saved["epoch_losses"],
        )
        logger.info("Resuming from %s (step %d)", checkpoint, self.progress.global_step)

    def report(self, resumed_from: int | None) -> FineTuneReport:
        """Bring both models' training summary up to date and describe the run."""
        best_dir, final_dir = self.output / BEST_MODEL_DIR, self.output / FINAL_MODEL_DIR
        for directory in (best_dir, final_dir):
            if not (directory / METADATA_FILENAME).is_file():
                raise RuntimeError(f"{directory} is missing; it was removed after the run made it.")
            write_model_metadata(directory, training_summary=self.summary)
        best = read_model_metadata(best_dir)
        evaluation = EvaluationReport(
            **{item.name: best["metrics"][item.name] for item in fields(EvaluationReport)}
        )
        return FineTuneReport(
            output_dir=self.output,
            best_model_dir=best_dir,
            final_model_dir=final_dir,
            base_model=self.base_model,
            global_step=self.progress.global_step,
            total_steps=self.total_steps,
            resumed_from_step=resumed_from,
            initial_val_loss=self.progress.initial_val_loss,
            initial_val_roc_auc=self.progress.initial_val_roc_auc,
            epochs=list(self.progress.epochs),
            best_epoch=self.progress.best_epoch,
            threshold=float(best["threshold"]),
            evaluation=evaluation,
            metrics=best["metrics"],
            training_summary=best["training_summary"],
        )
