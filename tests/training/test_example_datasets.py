"""The example fine-tuning files in training/datasets read back without errors."""

from pathlib import Path

from clipanalysis.csv_format import MATCH, MISMATCH, default_root_dir, read_training_csv

DATASETS = Path(__file__).resolve().parents[2] / "training" / "datasets"


def test_example_files_read_without_errors_and_have_both_labels():
    for name, minimum in (("example_train.csv", 25), ("example_val.csv", 8)):
        path = DATASETS / name
        rows = read_training_csv(path, default_root_dir(path))
        assert len(rows) >= minimum, name
        assert {row.label for row in rows} == {MATCH, MISMATCH}, name
        assert all(row.image_path.is_file() for row in rows)
        assert all(row.image_path.is_relative_to(DATASETS / "example_images") for row in rows)


def test_example_formula_like_texts_read_back_without_the_escape():
    path = DATASETS / "example_train.csv"
    texts = [row.text for row in read_training_csv(path, DATASETS)]
    assert any(text.startswith("-20% off! ") for text in texts)
    assert any(text.startswith("+1 free tote bag: ") for text in texts)
    assert not any(text.startswith("'") for text in texts)
    raw = path.read_text(encoding="utf-8")
    assert "'-20% off! " in raw and "'+1 free tote bag: " in raw


def test_example_train_and_val_share_no_image():
    train = {row.image_path for row in read_training_csv(DATASETS / "example_train.csv", DATASETS)}
    val = {row.image_path for row in read_training_csv(DATASETS / "example_val.csv", DATASETS)}
    assert train and val and not train & val


def test_examples_stay_small():
    total = sum(path.stat().st_size for path in DATASETS.rglob("*") if path.is_file())
    assert total < 1_000_000
