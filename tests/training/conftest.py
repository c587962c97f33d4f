from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.tiny_clip import build_tiny_clip
from training.csv_format import TrainingRow, write_training_csv


@pytest.fixture(scope="session")
def other_clip_dir(tmp_path_factory) -> Path:
    """A second tiny CLIP with other weights: a different model version."""
    return build_tiny_clip(tmp_path_factory.mktemp("other-clip"), seed=1)


# --- fine-tuning data: tiny colour "catalog" images with verdict CSVs -------------------------
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


@pytest.fixture(scope="session")
def verdict_files(tmp_path_factory) -> VerdictFiles:
    """32 training rows (16 images) and 16 validation rows (8 other images), balanced."""
    root = tmp_path_factory.mktemp("verdicts")
    write_training_csv(root / "train.csv", write_colour_images(root, "train", 16, seed=1))
    write_training_csv(root / "val.csv", write_colour_images(root, "val", 8, seed=2))
    return VerdictFiles(root=root, train_csv=root / "train.csv", val_csv=root / "val.csv")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models train several times faster on one thread than on busy shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
