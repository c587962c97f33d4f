"""Regenerate ``example_train.csv``, ``example_val.csv`` and ``example_images/``.

Small synthetic packshots (96 px) from the demo catalog generator, labelled the
way ``manage.py export_training_csv`` labels reviewer verdicts: each image with
its listing text (``match`` or ``mismatch``), and each mismatch also with the
true description (as a reviewer's corrected text becomes a ``match`` row). Two
texts start with ``-`` and ``+`` to show the spreadsheet-safe escaping.

    .venv/bin/python training/datasets/make_examples.py
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from clipanalysis.csv_format import TrainingRow, write_training_csv  # noqa: E402
from training.demo.catalog import describe, make_pairs, render_jpeg  # noqa: E402

IMAGE_SIZE = 96
SPLITS = {"train": (20, 101), "val": (6, 202)}  # images, seed
# Prefixes for the first matching texts of the training file (a spreadsheet would
# run them as formulas without the escaping).
FORMULA_LIKE = ["-20% off! ", "+1 free tote bag: "]


def main() -> None:
    images = HERE / "example_images"
    shutil.rmtree(images, ignore_errors=True)
    images.mkdir()
    for split, (count, seed) in SPLITS.items():
        rng = random.Random(seed)
        prefixes = list(FORMULA_LIKE) if split == "train" else []
        rows = []
        for index, pair in enumerate(make_pairs(count, seed, mismatch_rate=0.5, image_size=32)):
            name = f"example_images/{split}_{index:02d}.jpg"
            (HERE / name).write_bytes(render_jpeg(pair.spec, size=IMAGE_SIZE))
            text = pair.text
            if pair.is_match and prefixes:
                text = prefixes.pop(0) + text
            rows.append(TrainingRow(name, text, "match" if pair.is_match else "mismatch"))
            if not pair.is_match:
                rows.append(TrainingRow(name, describe(pair.spec, rng), "match"))
        written = write_training_csv(HERE / f"example_{split}.csv", rows)
        print(f"example_{split}.csv: {written} rows, {count} images")


if __name__ == "__main__":
    main()
