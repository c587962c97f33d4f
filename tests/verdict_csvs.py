"""Tiny colour "catalog" images with verdict CSVs, for training and batch-scoring tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from clipanalysis.csv_format import TrainingRow

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 190, 40),
    "blue": (30, 40, 220),
    "yellow": (235, 215, 30),
}


@dataclass(frozen=True)
class VerdictFiles:
    root: Path
    train_csv: Path
    val_csv: Path


def write_colour_images(root: Path, folder: str, count: int, seed: int) -> list[TrainingRow]:
    """``count`` noisy single-colour 32-px PNGs; per image one match and one mismatch row."""
    rng = np.random.default_rng(seed)
    (root / folder).mkdir(parents=True, exist_ok=True)
    names = list(COLOURS)
    rows = []
    for index in range(count):
        colour = names[index % len(names)]
        noise = rng.integers(-30, 30, size=(32, 32, 3))
        pixels = np.clip(np.array(COLOURS[colour]) + noise, 0, 255).astype("uint8")
        image_path = f"{folder}/{colour}-{index}.png"
        Image.fromarray(pixels).save(root / image_path)
        other = names[(index + 1 + int(rng.integers(0, len(names) - 1))) % len(names)]
        rows.append(TrainingRow(image_path, f"a {colour} cotton t-shirt", "match"))
        rows.append(TrainingRow(image_path, f"a {other} cotton t-shirt", "mismatch"))
    return rows
