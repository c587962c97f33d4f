"""``manage.py batch_test``: scores every row of a CSV and writes a results CSV."""

import csv
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from clipanalysis.batch_scoring import score_rows
from clipanalysis.clip_service import ClipService
from clipanalysis.csv_format import TrainingRow, read_training_csv

pytestmark = pytest.mark.django_db


def read_results(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_labelled_rows_get_score_decision_and_correctness(verdict_files, tiny_clip_dir, tmp_path):
    out = StringIO()

    call_command(
        "batch_test",
        csv=verdict_files.val_csv,
        threshold=0.1,
        output=tmp_path / "results.csv",
        model=str(tiny_clip_dir),
        stdout=out,
    )

    results = read_results(tmp_path / "results.csv")
    rows = read_training_csv(verdict_files.val_csv, verdict_files.root)
    service = ClipService.load(tiny_clip_dir, device="cpu", dtype="float32")
    scores = score_rows(service, rows)
    assert list(results[0]) == [
        "image_path",
        "text",
        "similarity_score",
        "is_match",
        "label",
        "correct",
    ]
    assert [r["image_path"] for r in results] == [
        row.image_path.relative_to(verdict_files.root).as_posix() for row in rows
    ]
    for result, row, score in zip(results, rows, scores, strict=True):
        assert float(result["similarity_score"]) == pytest.approx(score, abs=1e-5)
        assert result["is_match"] == str(score >= 0.1).lower()
        assert result["correct"] == str((score >= 0.1) == row.is_match).lower()
    correct = sum(r["correct"] == "true" for r in results)
    assert f"accuracy {correct / len(results):.1%} on 16 labelled rows" in out.getvalue()


def test_unlabelled_rows_and_formula_texts(tmp_path, tiny_clip_dir):
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 0, 0)).save(tmp_path / "red.png")
    (tmp_path / "in.csv").write_text('image_path,text\nred.png,"=1+1 red mug"\n')

    call_command(
        "batch_test",
        csv=tmp_path / "in.csv",
        threshold=0.2,
        output=tmp_path / "out.csv",
        model=str(tiny_clip_dir),
        stdout=StringIO(),
    )

    (result,) = read_results(tmp_path / "out.csv")
    assert list(result) == ["image_path", "text", "similarity_score", "is_match"]
    assert result["text"] == "'=1+1 red mug"  # spreadsheet-safe


def test_missing_images_are_reported_by_row(tmp_path, tiny_clip_dir):
    (tmp_path / "in.csv").write_text("image_path,text\ngone.png,red mug\n")

    with pytest.raises(CommandError, match=r"row 2: image .* does not exist"):
        call_command(
            "batch_test",
            csv=tmp_path / "in.csv",
            threshold=0.2,
            output=tmp_path / "out.csv",
            model=str(tiny_clip_dir),
        )


def test_score_rows_matches_the_service_in_batches(tiny_clip_dir, tmp_path):
    service = ClipService.load(tiny_clip_dir, device="cpu", dtype="float32")
    rows, images = [], []
    for index, colour in enumerate([(200, 0, 0), (0, 200, 0), (0, 0, 200)]):
        path = tmp_path / f"{index}.png"
        Image.new("RGB", (32, 32), colour).save(path)
        rows.append(TrainingRow(path, f"product {index}", "match"))
        images.append(Image.open(path).convert("RGB"))

    scores = score_rows(service, rows, batch_size=2)

    expected = service.batch_compute_similarity(images, [row.text for row in rows])
    assert scores == pytest.approx(expected, abs=1e-6)
