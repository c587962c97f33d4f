"""Train the offline demo CLIP from scratch on the synthetic catalog.

Why: where the Hugging Face hub is unreachable the project still needs a real
image–text model, and the demo must show reviewers' verdicts improving it. So
the demo model is a small ``transformers.CLIPModel`` trained here in a few
minutes on CPU, and only a few of its training texts (``DEFAULT_PATTERN_TEXT_RATE``)
name the pattern (plain, striped, dotted): it learns colours and categories well,
while pattern swaps stay weak on purpose for fine-tuning on verdicts to teach.

Why a few and not none: a model whose texts never name the pattern has no reason
to see stripes at all, and ~300 reviewer verdicts are too few to grow that from
nothing (fine-tuning then only over-fits). With a faint signal to start from, the
same verdicts raise pattern-swap ROC-AUC by about 0.2
(``benchmarks/finetune_from_verdicts.py``), as they would for a hub CLIP that
under-weights an attribute the catalog cares about.

Steps of ``build_demo_model``:

1. render the training packshots once, small, in worker processes;
2. train with the symmetric CLIP contrastive loss, where every pair in the
   batch whose text is true of the image counts as a positive (the catalog has
   few distinct colour × category claims, so a batch holds many duplicates);
3. save weights (safetensors), image processor and the real CLIP tokenizer
   into a temporary directory next to the destination;
4. score a held-out synthetic set from a different seed, choose the decision
   threshold from that score distribution, write ``catalog_clip.json``;
5. rename the directory into place, so an interrupted build leaves no half model.

Pure core: no Django.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor

from clipanalysis.clip_service import ClipService, cpu_supports_bf16, normalised_features
from clipanalysis.model_metadata import write_model_metadata
from training.demo.catalog import (
    CATEGORIES,
    COLOURS,
    PATTERNS,
    ProductSpec,
    describe,
    random_spec,
    render_model_pixels,
)
from training.demo.synthetic_eval import (
    SyntheticEvaluation,
    choose_threshold,
    evaluate_on_synthetic,
)
from training.demo.tokenizer import VOCAB_SIZE, build_clip_tokenizer
from training.losses import contrastive_loss
from training.optim import adamw_with_cosine_schedule, optimizer_step
from training.reliability import calibration_from_scores

DEFAULT_EPOCHS = 8
DEFAULT_N_TRAIN = 12_000
DEFAULT_BATCH_SIZE = 256
DEFAULT_LEARNING_RATE = 1.5e-3
DEFAULT_PATTERN_TEXT_RATE = 0.15
DEFAULT_N_HELDOUT = 1000
HELDOUT_SEED_OFFSET = 10_000


@dataclass(frozen=True)
class DemoArchitecture:
    """Sizes of the demo CLIP; the defaults train in minutes on two CPU cores."""

    image_size: int = 64
    patch_size: int = 16
    hidden_size: int = 128
    intermediate_size: int = 512
    vision_layers: int = 4
    text_layers: int = 1  # templated catalog texts need little depth
    attention_heads: int = 2
    projection_dim: int = 128

    def clip_config(self) -> CLIPConfig:
        shared = {
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_attention_heads": self.attention_heads,
        }
        return CLIPConfig(
            text_config={
                **shared,
                "vocab_size": VOCAB_SIZE,
                "num_hidden_layers": self.text_layers,
                "max_position_embeddings": 77,
            },
            vision_config={
                **shared,
                "num_hidden_layers": self.vision_layers,
                "image_size": self.image_size,
                "patch_size": self.patch_size,
            },
            projection_dim=self.projection_dim,
        )


@dataclass(frozen=True)
class DemoBuildConfig:
    """What a build trains on and how; ``None`` means "what this machine offers".

    ``pattern_text_rate`` is the share of training texts that name the pattern; kept
    low so that pattern swaps are left for fine-tuning on verdicts to teach.
    ``heldout_seed`` defaults to ``seed + HELDOUT_SEED_OFFSET``; ``workers`` (render
    processes) and ``threads`` (torch) to the CPU count; ``bf16`` (autocast) to
    whether the CPU supports it.
    """

    seed: int = 0
    epochs: int = DEFAULT_EPOCHS
    n_train: int = DEFAULT_N_TRAIN
    batch_size: int = DEFAULT_BATCH_SIZE
    learning_rate: float = DEFAULT_LEARNING_RATE
    n_heldout: int = DEFAULT_N_HELDOUT
    heldout_seed: int | None = None
    render_size: int = 96
    pattern_text_rate: float = DEFAULT_PATTERN_TEXT_RATE
    workers: int | None = None
    threads: int | None = None
    bf16: bool | None = None
    architecture: DemoArchitecture = field(default_factory=DemoArchitecture)

    def resolved(self) -> DemoBuildConfig:
        """This configuration with every ``None`` replaced by its value on this machine."""
        cores = os.cpu_count() or 1
        return replace(
            self,
            heldout_seed=(
                self.seed + HELDOUT_SEED_OFFSET if self.heldout_seed is None else self.heldout_seed
            ),
            workers=self.workers or cores,
            threads=self.threads or cores,
            bf16=cpu_supports_bf16() if self.bf16 is None else self.bf16,
        )


@dataclass
class DemoBuildReport:
    """Where the model went, its threshold, the held-out evaluation and the training curve."""

    output_dir: Path
    threshold: float
    heldout: SyntheticEvaluation
    epoch_losses: list[float]
    seconds: float
    timings: dict[str, float]
    seed: int
    heldout_seed: int
    n_train: int
    epochs: int


# --- data ------------------------------------------------------------------------------
@dataclass
class _TrainingSet:
    specs: list[ProductSpec]
    pixels: torch.Tensor  # (n, 3, s, s) uint8, as the image processor resizes
    category: torch.Tensor  # (n,) index into CATEGORIES
    colour: torch.Tensor
    pattern: torch.Tensor


def _render_training_set(
    n: int, seed: int, render_size: int, model_size: int, workers: int, progress: bool = False
) -> _TrainingSet:
    rng = random.Random(seed)
    specs = [random_spec(rng) for _ in range(n)]
    render = partial(render_model_pixels, size=render_size, model_size=model_size)
    bar = tqdm(total=n, disable=not progress, desc="rendering packshots", unit="image")
    if workers > 1 and n >= 512 and "fork" in get_all_start_methods():
        # fork: no re-import of __main__ (scripts, shells); the children draw with
        # PIL and numpy only and never touch torch, so forking after its import is safe.
        with get_context("fork").Pool(workers) as pool:
            arrays = []
            # imap keeps the order of map and lets the bar move as chunks come back.
            for array in pool.imap(render, specs, chunksize=max(16, n // (workers * 32))):
                arrays.append(array)
                bar.update(1)
    else:
        arrays = []
        for spec in specs:
            arrays.append(render(spec))
            bar.update(1)
    bar.close()
    pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    colours = list(COLOURS)
    return _TrainingSet(
        specs=specs,
        pixels=pixels,
        category=torch.tensor([CATEGORIES.index(s.category) for s in specs]),
        colour=torch.tensor([colours.index(s.colour) for s in specs]),
        pattern=torch.tensor([PATTERNS.index(s.pattern) for s in specs]),
    )


def _epoch_texts(
    specs: list[ProductSpec], rng: random.Random, pattern_text_rate: float
) -> tuple[list[str], torch.Tensor]:
    """One description per product, re-drawn every epoch; -1 where no pattern is named."""
    texts, named_pattern = [], []
    for spec in specs:
        mention = pattern_text_rate > 0 and rng.random() < pattern_text_rate
        texts.append(describe(spec, rng, mention_pattern=mention))
        named_pattern.append(PATTERNS.index(spec.pattern) if mention else -1)
    return texts, torch.tensor(named_pattern)


def _normalise(pixels: torch.Tensor, processor: CLIPImageProcessorPil) -> torch.Tensor:
    mean = torch.tensor(processor.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_std).view(1, 3, 1, 1)
    return (pixels.float() / 255.0 - mean) / std


def _positives(data: _TrainingSet, index: torch.Tensor, named: torch.Tensor) -> torch.Tensor:
    """``[i, j]`` is true when text j (category, colour, maybe pattern) is true of image i."""
    category, colour, pattern = data.category[index], data.colour[index], data.pattern[index]
    same = (category[:, None] == category[None, :]) & (colour[:, None] == colour[None, :])
    pattern_ok = (named[None, :] < 0) | (pattern[:, None] == named[None, :])
    return same & pattern_ok


# --- training ------------------------------------------------------------------------------
def train_demo_clip(
    model: CLIPModel,
    processor: CLIPProcessor,
    data: _TrainingSet,
    config: DemoBuildConfig,
    progress: bool = False,
) -> list[float]:
    """Contrastive training (``config`` resolved); returns the mean loss of every epoch."""
    n = len(data.specs)
    batch_size = min(config.batch_size, n)
    steps_per_epoch = max(1, n // batch_size)
    total_steps = steps_per_epoch * config.epochs
    optimiser, scheduler = adamw_with_cosine_schedule(
        model,
        lr=config.learning_rate,
        total_steps=total_steps,
        warmup_steps=max(1, total_steps // 20),
        weight_decay=0.05,
        betas=(0.9, 0.98),
    )
    generator = torch.Generator().manual_seed(config.seed)
    text_rng = random.Random(config.seed + 1)
    epoch_losses = []
    model.train()
    bar = tqdm(total=total_steps, disable=not progress, desc="demo CLIP", unit="step")
    for _epoch in range(config.epochs):
        texts, named = _epoch_texts(data.specs, text_rng, config.pattern_text_rate)
        tokens = processor.tokenizer(texts, padding=True, return_tensors="pt")
        order = torch.randperm(n, generator=generator)
        losses = []
        for step in range(steps_per_epoch):
            index = order[step * batch_size : (step + 1) * batch_size]
            pixel_values = _normalise(data.pixels[index], processor.image_processor)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
                image = model.get_image_features(pixel_values=pixel_values)
                text = model.get_text_features(
                    input_ids=tokens["input_ids"][index],
                    attention_mask=tokens["attention_mask"][index],
                )
            scaled = model.logit_scale.exp() * normalised_features(image)
            logits = scaled @ normalised_features(text).T
            loss = contrastive_loss(logits, _positives(data, index, named[index]))
            loss.backward()
            optimizer_step(model, optimiser, scheduler, max_grad_norm=1.0)
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        epoch_losses.append(float(np.mean(losses)))
    bar.close()
    model.eval()
    return epoch_losses


# --- the build ----------------------------------------------------------------------------
def build_demo_model(
    output_dir: str | Path, config: DemoBuildConfig | None = None, progress: bool = True
) -> DemoBuildReport:
    """Train, save and calibrate the demo model into ``output_dir`` (replacing it atomically)."""
    started = time.monotonic()
    config = (config or DemoBuildConfig()).resolved()
    architecture = config.architecture
    output = Path(output_dir).resolve()
    _check_replaceable(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{output.name}.building-", dir=output.parent))
    previous_threads = torch.get_num_threads()
    try:
        data = _render_training_set(
            config.n_train,
            config.seed,
            config.render_size,
            architecture.image_size,
            config.workers,
            progress,
        )
        timings = {"render": time.monotonic() - started}
        torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        model = CLIPModel(architecture.clip_config())
        processor = CLIPProcessor(
            image_processor=CLIPImageProcessorPil(
                size={"shortest_edge": architecture.image_size},
                crop_size={"height": architecture.image_size, "width": architecture.image_size},
            ),
            tokenizer=build_clip_tokenizer(building),
        )
        epoch_losses = train_demo_clip(model, processor, data, config, progress)
        timings["train"] = time.monotonic() - started - timings["render"]
        model.save_pretrained(building)
        processor.save_pretrained(building)
        service = ClipService.load(building, device="cpu", dtype="float32")
        heldout = evaluate_on_synthetic(
            service, config.heldout_seed, config.n_heldout, threshold=0.0, progress=progress
        )
        threshold = choose_threshold(heldout.scores, heldout.labels)
        heldout = heldout.at_threshold(threshold)
        seconds = time.monotonic() - started
        timings["heldout"] = seconds - timings["render"] - timings["train"]
        write_model_metadata(
            building,
            threshold=threshold,
            base_model="scratch",
            model_kind="demo",
            training={
                "data": "synthetic catalog (training.demo.catalog)",
                "n_train": config.n_train,
                "epochs": config.epochs,
                "batch_size": config.batch_size,
                "learning_rate": config.learning_rate,
                "pattern_text_rate": config.pattern_text_rate,
                "render_size": config.render_size,
                "bf16_autocast": config.bf16,
                "architecture": asdict(architecture),
                "epoch_losses": [round(loss, 4) for loss in epoch_losses],
                "seconds": {phase: round(value, 1) for phase, value in timings.items()},
            },
            seeds={"train": config.seed, "heldout": config.heldout_seed},
            threshold_method="Youden's J on the held-out synthetic set",
            metrics={"heldout_synthetic": heldout.as_dict()},
            # The shipped calibration: match_probability until reviewers' verdicts refit it.
            calibration=calibration_from_scores(
                heldout.scores,
                heldout.labels,
                "logistic regression on the held-out synthetic set (shipped with the model)",
            ),
        )
        _move_into_place(building, output)
    finally:
        torch.set_num_threads(previous_threads)
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    return DemoBuildReport(
        output_dir=output,
        threshold=threshold,
        heldout=heldout,
        epoch_losses=epoch_losses,
        seconds=seconds,
        timings=timings,
        seed=config.seed,
        heldout_seed=config.heldout_seed,
        n_train=config.n_train,
        epochs=config.epochs,
    )


def _check_replaceable(output: Path) -> None:
    """Only a model directory (or an empty one) is ever replaced: never someone's folder."""
    if not output.exists():
        return
    if not output.is_dir() or (any(output.iterdir()) and not (output / "config.json").is_file()):
        raise FileExistsError(f"{output} exists and is not a model directory; not replacing it.")


def _usual_permissions(directory: Path) -> None:
    """``mkdtemp`` makes an owner-only folder; give it the modes any new folder gets, so a
    web server or worker running as another user can read the model."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)
    for path in directory.iterdir():
        path.chmod(0o666 & ~umask)


def _move_into_place(building: Path, output: Path) -> None:
    """Swap the finished directory in; the old model (if any) is removed only afterwards."""
    _usual_permissions(building)
    if not output.exists():
        building.rename(output)
        return
    retired = output.with_name(f".{output.name}.old-{uuid.uuid4().hex[:8]}")
    output.rename(retired)
    building.rename(output)
    shutil.rmtree(retired, ignore_errors=True)
