"""Score a CSV of image–text pairs (``manage.py batch_test``) with a ``ClipService``.

Pure core: paths, rows and a service in, a results CSV and counts out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from catalog.imaging import decode_image
from clipanalysis.clip_service import ClipService
from clipanalysis.csv_format import TrainingRow, read_training_csv, write_csv_rows


def score_rows(
    service: ClipService, rows: Sequence[TrainingRow], batch_size: int = 32
) -> list[float]:
    """``similarity_score`` of every row, decoding ``batch_size`` images at a time."""
    scores: list[float] = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        images = [decode_image(row.image_path).image for row in batch]
        scores += service.batch_compute_similarity(images, [row.text for row in batch])
    return scores


@dataclass(frozen=True)
class BatchTestResult:
    """Counts of a batch test; ``accuracy`` over the labelled rows, None when there are none."""

    n: int
    n_match: int
    n_labelled: int
    accuracy: float | None
    output_path: Path


def batch_test(
    service: ClipService,
    csv_path: str | Path,
    root_dir: str | Path,
    output_path: str | Path,
    *,
    threshold: float | None = None,
) -> BatchTestResult:
    """Score every row of ``image_path,text[,label]`` and write a results CSV.

    Columns: ``image_path,text,similarity_score,is_match``, plus ``label,correct``
    when the input has labels. Paths are written as in the input, relative to
    ``root_dir``; cells are spreadsheet-safe.
    """
    root = Path(root_dir).resolve()
    rows = read_training_csv(csv_path, root, require_label=False)
    limit = service.threshold if threshold is None else threshold
    scores = score_rows(service, rows, service.batch_size)
    labelled = any(row.label for row in rows)
    header = ["image_path", "text", "similarity_score", "is_match"]
    header += ["label", "correct"] if labelled else []
    table, correct = [], []
    for row, score in zip(rows, scores, strict=True):
        is_match = score >= limit
        cells = [Path(row.image_path).relative_to(root).as_posix(), row.text, f"{score:.6f}"]
        cells.append(str(is_match).lower())
        if labelled:
            right = (is_match == row.is_match) if row.label else None
            cells += [row.label, "" if right is None else str(right).lower()]
            if right is not None:
                correct.append(right)
        table.append(cells)
    write_csv_rows(output_path, header, table)
    return BatchTestResult(
        n=len(rows),
        n_match=sum(score >= limit for score in scores),
        n_labelled=len(correct),
        accuracy=float(np.mean(correct)) if correct else None,
        output_path=Path(output_path),
    )
