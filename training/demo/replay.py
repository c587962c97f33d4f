"""Replay rows for fine-tuning a model that descends from the demo model.

Why: fine-tuning on a few hundred verdicts moves the model toward what the
verdicts are about (patterns) and away from what it knew (colours,
categories). Mixing in pairs of the kind the demo model was trained on keeps
that knowledge: the same generator, texts without the pattern (as the demo
build's), and mismatches of colour, category and unrelated text. The pattern
stays for reviewers' verdicts to teach, so a benchmark gain there is theirs.

Images are written once per seed under ``root`` (a training CSV's paths must
lie inside its root) and reused by later exports.

Pure core: paths and rows.
"""

from __future__ import annotations

from pathlib import Path

from clipanalysis.csv_format import MATCH, MISMATCH, TrainingRow
from training.demo.catalog import DEFAULT_IMAGE_SIZE, make_pairs

REPLAY_MISMATCH_TYPES = ("colour", "category", "unrelated")


def write_replay_rows(
    root: str | Path, folder: str, count: int, *, seed: int, image_size: int = DEFAULT_IMAGE_SIZE
) -> list[TrainingRow]:
    """``count`` synthetic rows (half mismatched), images under ``root/folder``; paths relative."""
    if count <= 0:
        return []
    directory = Path(root) / folder / f"seed-{seed}"
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    pairs = make_pairs(
        count,
        seed,
        mismatch_rate=0.5,
        mismatch_types=REPLAY_MISMATCH_TYPES,
        image_size=image_size,
        mention_pattern=False,
    )
    for index, pair in enumerate(pairs):
        path = directory / f"{index:06d}.png"
        if not path.is_file():
            pair.image.save(path, format="PNG")
        rows.append(
            TrainingRow(
                image_path=path.relative_to(root).as_posix(),
                text=pair.text,
                label=MATCH if pair.is_match else MISMATCH,
            )
        )
    return rows
