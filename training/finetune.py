"""Fine-tune a CLIP checkpoint on reviewers' verdicts (``match`` / ``mismatch`` rows).

Why two losses: the symmetric CLIP contrastive loss only uses ``match`` rows
(each image against the other texts of the batch), but reviewers' ``mismatch``
verdicts are the most valuable signal: pairs the model scored too high. So each
``mismatch`` pair is also pushed below every ``match`` pair of its batch with a
pairwise logistic (RankNet) loss on the scaled cosines, which is a smooth
stand-in for the ROC-AUC that validation measures:

    loss = contrastive(matches) + negative_loss_weight * mean softplus(s * (cos_neg - cos_pos))

Steps of ``fine_tune``:

1. load the model in float32 (fresh, or from the latest checkpoint with its
   optimizer, scheduler and RNG state when resuming; the configuration and
   data must be the same, and completed steps are skipped);
2. validate once before training (the base model's figures, for comparison);
3. per epoch, a seeded shuffle of the rows; per optimizer step,
   ``grad_accum_steps`` batches; every ``save_steps`` optimizer steps a
   checkpoint ``checkpoint-<step>/``;
4. after each epoch, validate: loss, and ROC-AUC of the cosine on the
   validation rows; the best ROC-AUC so far is saved as ``best_model/`` with
   ``catalog_clip.json`` (threshold maximising F1 on validation, metrics,
   base model, training-data summary);
5. save the last weights as ``final_model/`` (also with ``catalog_clip.json``).

Every saved directory loads with plain ``CLIPModel.from_pretrained`` and
``CLIPProcessor.from_pretrained``; ``training.checkpoints`` saves the rest of a
checkpoint (optimizer, scheduler, RNG) without pickle.

Images go through the same ``prepare_image`` + processor as at inference, and
validation scores with a ``ClipService`` around the model being trained, so the
validation numbers are what serving will see.

Pure core: no Django.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm
from transformers import CLIPModel, CLIPProcessor

from catalog.imaging import decode_image
from clipanalysis.clip_service import (
    ClipService,
    model_files_problem,
    prepare_image,
    resolve_device,
)
from clipanalysis.csv_format import (
    CsvValidationError,
    TrainingRow,
    default_root_dir,
    read_training_csv,
)
from clipanalysis.model_metadata import METADATA_FILENAME, read_model_metadata, write_model_metadata
from training.checkpoints import (
    CHECKPOINT_PREFIX,
    list_checkpoints,
    prune_checkpoints,
    read_checkpoint_progress,
    restore_checkpoint,
    save_checkpoint,
    save_model_dir,
)
from training.evaluation import EvaluationReport, evaluate_scores, format_evaluation

logger = logging.getLogger(__name__)

BEST_MODEL_DIR = "best_model"
FINAL_MODEL_DIR = "final_model"
MAX_LOGIT_SCALE = math.log(100.0)
# Settings that may change between a run and its resumption without changing the result.
RESUMABLE_CHANGES = frozenset({"save_steps", "save_total_limit", "device"})


@dataclass(frozen=True)
class FineTuneConfig:
    """Hyper-parameters. ``freeze_*_layers=N`` freezes a tower's embeddings and lowest N layers."""

    epochs: int = 3
    batch_size: int = 8
    lr: float = 5e-6
    save_steps: int = 100
    grad_accum_steps: int = 1
    freeze_vision_layers: int = 0
    freeze_text_layers: int = 0
    seed: int = 0
    weight_decay: float = 0.1
    negative_loss_weight: float = 1.0
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    save_total_limit: int | None = 3  # checkpoints kept (oldest deleted); None keeps all
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "save_steps", "grad_accum_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1.")
        if self.lr <= 0:
            raise ValueError("lr must be positive.")
        if self.freeze_vision_layers < 0 or self.freeze_text_layers < 0:
            raise ValueError("freeze_*_layers must be 0 or more.")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError("warmup_ratio must be at least 0 and below 1.")
        if self.save_total_limit is not None and self.save_total_limit < 1:
            raise ValueError("save_total_limit must be at least 1 (or None).")

    def run_defining(self) -> dict[str, Any]:
        """The settings a resumed run must share with the run it continues."""
        return {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if item.name not in RESUMABLE_CHANGES
        }


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


# --- loss ------------------------------------------------------------------------------------
def verdict_loss(
    image_embeddings: torch.Tensor,
    text_embeddings: torch.Tensor,
    logit_scale: torch.Tensor,
    is_match: torch.Tensor,
    negative_loss_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Symmetric CLIP loss over the batch's match rows plus the mismatch ranking loss.

    Embeddings are L2-normalised, row ``i`` being image ``i`` with text ``i``.
    Two match rows with the same image or the same text have identical
    embeddings there, and with identical logits a one-hot target on each row
    costs exactly what a target shared between them would, so duplicates need
    no special case. Returns the total and its two parts (floats, for logs).
    """
    scale = logit_scale.exp()
    cosines = (image_embeddings * text_embeddings).sum(dim=-1)
    zero = cosines.sum() * 0.0
    matches = torch.nonzero(is_match).flatten()
    mismatches = torch.nonzero(~is_match).flatten()

    contrastive = zero
    if len(matches) >= 2:
        logits = scale * image_embeddings[matches] @ text_embeddings[matches].T
        targets = torch.arange(len(matches), device=logits.device)
        contrastive = (
            torch.nn.functional.cross_entropy(logits, targets)
            + torch.nn.functional.cross_entropy(logits.T, targets)
        ) / 2

    negative = zero
    if len(matches) and len(mismatches):
        gaps = cosines[mismatches][:, None] - cosines[matches][None, :]
        negative = torch.nn.functional.softplus(scale * gaps).mean()

    total = contrastive + negative_loss_weight * negative
    return total, {"contrastive": float(contrastive.detach()), "negative": float(negative.detach())}


# --- data ------------------------------------------------------------------------------------
def split_by_image(
    rows: Sequence[TrainingRow], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[TrainingRow], list[TrainingRow]]:
    """Hold out whole images (all rows of an image on one side), chosen by a seeded hash.

    For a training CSV without a validation file. At least one image goes to
    each side when there are two or more.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction must be above 0 and below 1.")
    images = sorted(
        {str(row.image_path) for row in rows},
        key=lambda key: hashlib.sha256(f"{seed}:{key}".encode()).hexdigest(),
    )
    held_out = round(len(images) * val_fraction)
    held_out = min(max(held_out, 1), len(images) - 1) if len(images) > 1 else 0
    val_images = set(images[:held_out])
    train = [row for row in rows if str(row.image_path) not in val_images]
    val = [row for row in rows if str(row.image_path) in val_images]
    return train, val


def load_training_data(
    train_csv: str | Path,
    val_csv: str | Path | None = None,
    *,
    root_dir: str | Path | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[list[TrainingRow], list[TrainingRow]]:
    """Read and validate the CSV file(s); without ``val_csv``, hold out images of the train file.

    Every problem of both files is reported in one ``CsvValidationError``.
    ``root_dir`` defaults to each file's ``default_root_dir``.
    """
    sides: list[list[TrainingRow]] = []
    problems: list[CsvValidationError] = []
    for path in [train_csv] if val_csv is None else [train_csv, val_csv]:
        try:
            sides.append(read_training_csv(path, root_dir or default_root_dir(path)))
        except CsvValidationError as error:
            problems.append(error)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise CsvValidationError(
            [(row, f"{Path(e.path).name}: {text}") for e in problems for row, text in e.errors]
        )
    if val_csv is None:
        return split_by_image(sides[0], val_fraction, seed)
    return sides[0], sides[1]


def summarise_rows(rows: Sequence[TrainingRow]) -> dict[str, int]:
    return {
        "rows": len(rows),
        "match": sum(row.is_match for row in rows),
        "mismatch": sum(not row.is_match for row in rows),
        "images": len({str(row.image_path) for row in rows}),
        "texts": len({row.text for row in rows}),
    }


def data_fingerprint(train_rows: Sequence[TrainingRow], val_rows: Sequence[TrainingRow]) -> str:
    digest = hashlib.sha256()
    for side, rows in (("train", train_rows), ("val", val_rows)):
        for row in rows:
            digest.update(json.dumps([side, str(row.image_path), row.text, row.label]).encode())
    return digest.hexdigest()


def _batch_order(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The epoch's batches: a shuffle that depends only on (seed, epoch), so resuming
    recreates it without any saved sampler state."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=generator).tolist()
    return [order[start : start + batch_size] for start in range(0, n, batch_size)]


def _model_inputs(processor: CLIPProcessor, rows: Sequence[TrainingRow], device: torch.device):
    images = [prepare_image(decode_image(row.image_path).image) for row in rows]
    pixels = processor(images=images, return_tensors="pt")["pixel_values"].to(device)
    tokens = processor(
        text=[row.text for row in rows], return_tensors="pt", padding=True, truncation=True
    ).to(device)
    return pixels, tokens


def _normalised(output) -> torch.Tensor:
    features = output.pooler_output if hasattr(output, "pooler_output") else output
    return torch.nn.functional.normalize(features.float(), dim=-1)


def _batch_loss(model, processor, rows, device, config: FineTuneConfig) -> torch.Tensor:
    pixels, tokens = _model_inputs(processor, rows, device)
    images = _normalised(model.get_image_features(pixel_values=pixels))
    texts = _normalised(
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


# --- model, optimiser ---------------------------------------------------------------------------
def freeze_layers(model: CLIPModel, vision_layers: int = 0, text_layers: int = 0) -> int:
    """Freeze each tower's embeddings and lowest layers; return the trainable parameter count."""
    towers = (
        (model.vision_model, vision_layers, ("embeddings", "pre_layrnorm")),
        (model.text_model, text_layers, ("embeddings",)),
    )
    for tower, count, stems in towers:
        if count <= 0:
            continue
        modules = [getattr(tower, stem) for stem in stems if hasattr(tower, stem)]
        modules += list(tower.encoder.layers[:count])
        for module in modules:
            for parameter in module.parameters():
                parameter.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _optimizer_and_schedule(model: CLIPModel, config: FineTuneConfig, total_steps: int):
    """AdamW (no decay on biases, norms, embeddings, logit scale); linear warm-up, cosine decay."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        plain = parameter.ndim < 2 or "embedding" in name or name == "logit_scale"
        (no_decay if plain else decay).append(parameter)
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    warmup = math.ceil(total_steps * config.warmup_ratio)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


# --- validation -------------------------------------------------------------------------------
def validation_report(labels: Sequence[bool], cosines: np.ndarray) -> EvaluationReport:
    """Metrics at the best-F1 threshold on the ``similarity_score`` scale.

    ROC-AUC is computed on the raw cosine: clipping to [0, 1] ties every
    negative cosine at 0, which blurs the ranking a model selection relies on.
    """
    scores = np.clip(cosines, 0.0, 1.0)
    chosen = evaluate_scores(labels, scores, threshold=0.5).best_f1_threshold
    report = evaluate_scores(labels, scores, threshold=chosen)
    return replace(report, roc_auc=float(roc_auc_score(np.asarray(labels, bool), cosines)))


def _validate(model, processor, rows, device, config: FineTuneConfig) -> tuple[float, np.ndarray]:
    """Validation loss (same batching as training) and the cosine of every row."""
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


# --- the run ------------------------------------------------------------------------------------
@dataclass
class _Progress:
    """What a checkpoint remembers besides weights, optimizer, scheduler and RNG."""

    global_step: int = 0
    initial_val_loss: float = math.nan
    initial_val_roc_auc: float = math.nan
    epochs: list[EpochResult] = field(default_factory=list)
    best_epoch: int = 0
    best_roc_auc: float = -1.0  # below any ROC-AUC
    epoch_losses: list[float] = field(default_factory=list)  # of the epoch under way


@dataclass
class _Run:
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
    progress: _Progress = field(default_factory=_Progress)

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
        loss, cosines = _validate(
            self.model, self.processor, self.val_rows, self.device, self.config
        )
        return loss, validation_report([row.is_match for row in self.val_rows], cosines)

    def train_step(self, batches: list[list[int]], optimizer, scheduler) -> float:
        """One optimizer step over ``batches`` (gradient accumulation); the mean loss."""
        step_loss = 0.0
        for batch in batches:
            rows = [self.train_rows[index] for index in batch]
            loss = _batch_loss(self.model, self.processor, rows, self.device, self.config)
            (loss / len(batches)).backward()
            step_loss += float(loss.detach()) / len(batches)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        torch.nn.utils.clip_grad_norm_(trainable, self.config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            self.model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
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
        self.progress = _Progress(
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


def fine_tune(
    model_name_or_dir: str | Path,
    train_rows: Sequence[TrainingRow],
    val_rows: Sequence[TrainingRow],
    output_dir: str | Path,
    config: FineTuneConfig | None = None,
    progress: bool = True,
    *,
    resume: bool = False,
) -> FineTuneReport:
    """Fine-tune, validate every epoch, save ``best_model/`` and ``final_model/``.

    See the module docstring for the steps. ``resume=True`` continues from the
    latest checkpoint in ``output_dir`` (or starts afresh when there is none);
    without it, an ``output_dir`` that already holds a run is refused.
    """
    config = config or FineTuneConfig()
    output = Path(output_dir)
    _check_inputs(train_rows, val_rows, output, resume)
    output.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    steps_per_epoch = math.ceil(
        math.ceil(len(train_rows) / config.batch_size) / config.grad_accum_steps
    )
    saved = list_checkpoints(output) if resume else []
    latest = saved[-1][1] if saved else None
    if resume and latest is None:
        logger.info("No checkpoint in %s: starting from the beginning.", output)

    device = resolve_device(config.device)
    source = str(latest or model_name_or_dir)
    if Path(source).is_dir() and (problem := model_files_problem(source)) is not None:
        raise ValueError(problem)  # e.g. pickle-only weights: never unpickled
    model = CLIPModel.from_pretrained(source, dtype=torch.float32, use_safetensors=True)
    model = model.to(device)
    freeze_layers(model, config.freeze_vision_layers, config.freeze_text_layers)
    run = _Run(
        model=model,
        processor=CLIPProcessor.from_pretrained(source),
        device=device,
        config=config,
        output=output,
        train_rows=train_rows,
        val_rows=val_rows,
        base_model=str(model_name_or_dir),
        fingerprint=data_fingerprint(train_rows, val_rows),
        total_steps=steps_per_epoch * config.epochs,
    )
    optimizer, scheduler = _optimizer_and_schedule(model, config, run.total_steps)
    if latest is not None:
        run.restore(latest, optimizer, scheduler)
    else:
        loss, report = run.validate()
        run.progress.initial_val_loss, run.progress.initial_val_roc_auc = loss, report.roc_auc

    model.train()
    done = run.progress.global_step
    bar = tqdm(total=run.total_steps, initial=done, disable=not progress, desc="fine-tuning CLIP")
    accumulate = config.grad_accum_steps
    for epoch in range(done // steps_per_epoch, config.epochs):
        batches = _batch_order(len(train_rows), config.batch_size, config.seed, epoch)
        for step in range(run.progress.global_step - epoch * steps_per_epoch, steps_per_epoch):
            group = batches[step * accumulate : (step + 1) * accumulate]
            loss = run.train_step(group, optimizer, scheduler)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", epoch=epoch + 1)
            if step == steps_per_epoch - 1:
                run.end_epoch(epoch)
            if run.progress.global_step % config.save_steps == 0:
                run.checkpoint(optimizer, scheduler)  # after end_epoch: resuming never skips it
    bar.close()
    model.eval()
    return run.report(resumed_from=done if latest is not None else None)


def fine_tune_from_csv(
    model_name_or_dir: str | Path,
    train_csv: str | Path,
    output_dir: str | Path,
    config: FineTuneConfig | None = None,
    *,
    val_csv: str | Path | None = None,
    root_dir: str | Path | None = None,
    val_fraction: float = 0.2,
    progress: bool = True,
    resume: bool = False,
) -> FineTuneReport:
    """``load_training_data`` then ``fine_tune``: what ``manage.py train_clip`` runs."""
    config = config or FineTuneConfig()
    train_rows, val_rows = load_training_data(
        train_csv, val_csv, root_dir=root_dir, val_fraction=val_fraction, seed=config.seed
    )
    return fine_tune(
        model_name_or_dir, train_rows, val_rows, output_dir, config, progress, resume=resume
    )


def _check_inputs(train_rows, val_rows, output: Path, resume: bool) -> None:
    if not any(row.is_match for row in train_rows):
        raise ValueError("The training rows hold no 'match' row: nothing to learn from.")
    if {row.is_match for row in val_rows} != {True, False}:
        raise ValueError(
            "The validation rows need both 'match' and 'mismatch' rows to measure ROC-AUC."
        )
    if resume:
        return
    taken = [name for name in (BEST_MODEL_DIR, FINAL_MODEL_DIR) if (output / name).exists()]
    taken += [path.name for _step, path in list_checkpoints(output)]
    if taken:
        raise ValueError(
            f"{output} already holds a fine-tuning run ({', '.join(sorted(taken))}); "
            "resume it or choose another output directory."
        )


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
