"""Fine-tune a CLIP checkpoint on reviewers' verdicts (``match`` / ``mismatch`` rows).

Why two losses: the symmetric CLIP contrastive loss only uses ``match`` rows
(each image against the other texts of the batch), but reviewers' ``mismatch``
verdicts are the most valuable signal: pairs the model scored too high. So each
``mismatch`` pair is also pushed below every ``match`` pair of its batch with a
pairwise logistic (RankNet) loss on the scaled cosines, which is a smooth
stand-in for the ROC-AUC that validation measures:

    loss = contrastive(matches) + negative_loss_weight * mean softplus(s * (cos_neg - cos_pos))
           [+ anchor_weight * sum (w - w_start)^2]   (L2-SP, off by default)

The optional L2-SP term pulls the weights toward the starting model rather than
toward zero, the usual remedy for forgetting while fine-tuning on a narrow set.

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

The parts live next to this module: ``finetune_config`` (the settings),
``finetune_data`` (CSV rows, split, batches), ``losses`` (``verdict_loss``),
``optim`` (AdamW and the warm-up + cosine schedule), ``finetune_run`` (what each
step does, checkpoints included) and ``finetune_report`` (results and their text).

Pure core: no Django.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import CLIPModel, CLIPProcessor

from clipanalysis.clip_service import model_files_problem, resolve_device
from clipanalysis.csv_format import TrainingRow
from training.checkpoints import list_checkpoints
from training.finetune_config import FineTuneConfig
from training.finetune_data import batch_order, data_fingerprint, load_training_data
from training.finetune_report import FineTuneReport
from training.finetune_run import BEST_MODEL_DIR, FINAL_MODEL_DIR, FineTuneRun, anchor_weights
from training.optim import adamw_with_cosine_schedule

logger = logging.getLogger(__name__)


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


def optimizer_and_schedule(model: CLIPModel, config: FineTuneConfig, total_steps: int):
    """AdamW (CLIP's betas and eps), linear warm-up over ``warmup_ratio``, cosine decay."""
    return adamw_with_cosine_schedule(
        model,
        lr=config.lr,
        total_steps=total_steps,
        warmup_steps=math.ceil(total_steps * config.warmup_ratio),
        weight_decay=config.weight_decay,
        betas=(0.9, 0.98),
        eps=1e-6,
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
    run = FineTuneRun(
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
        anchor=_anchor(model, model_name_or_dir, latest, config),
    )
    optimizer, scheduler = optimizer_and_schedule(model, config, run.total_steps)
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
        batches = batch_order(len(train_rows), config.batch_size, config.seed, epoch)
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


def _anchor(model: CLIPModel, start: str | Path, latest: Path | None, config: FineTuneConfig):
    """The weights L2-SP pulls toward: the starting model's, also when resuming (the
    checkpoint's weights have moved; the start is read again)."""
    if config.anchor_weight == 0:
        return None
    if latest is None:
        return anchor_weights(model)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    start_model = CLIPModel.from_pretrained(str(start), dtype=torch.float32, use_safetensors=True)
    return {
        name: weight.detach().to(model.device)
        for name, weight in start_model.named_parameters()
        if name in trainable
    }


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
