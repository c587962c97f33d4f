"""The rows a fine-tuning run learns from: CSV loading, the validation split, batches.

Why apart from the run: ``manage.py train_clip``, the benchmark and the run's
checkpoints (which must know they resume on the same rows) all need them, and
none of this touches a model.

Images go through the same ``decode_image`` + ``prepare_image`` + processor as
at inference, so training sees what serving will see.

Pure core: no Django.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import CLIPProcessor

from catalog.imaging import decode_image
from clipanalysis.clip_service import prepare_image
from clipanalysis.csv_format import (
    CsvValidationError,
    TrainingRow,
    default_root_dir,
    read_training_csv,
)


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


def batch_order(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The epoch's batches: a shuffle that depends only on (seed, epoch), so resuming
    recreates it without any saved sampler state."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=generator).tolist()
    return [order[start : start + batch_size] for start in range(0, n, batch_size)]


def model_inputs(processor: CLIPProcessor, rows: Sequence[TrainingRow], device: torch.device):
    """Pixel values and tokens of ``rows``, as the processor prepares them at inference."""
    images = [prepare_image(decode_image(row.image_path).image) for row in rows]
    pixels = processor(images=images, return_tensors="pt")["pixel_values"].to(device)
    tokens = processor(
        text=[row.text for row in rows], return_tensors="pt", padding=True, truncation=True
    ).to(device)
    return pixels, tokens
