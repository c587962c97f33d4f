"""``manage.py train_clip``: validates the CSVs, fine-tunes, registers (not activates)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from clipanalysis.model_metadata import read_model_metadata
from clipanalysis.models import ModelVersion

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("one_torch_thread")]


def test_trains_from_the_active_model_and_registers_an_inactive_version(
    verdict_files, tiny_clip_dir, tmp_path, clean_clip_services
):
    out = StringIO()

    call_command(
        "train_clip",
        train_csv=verdict_files.train_csv,
        val_csv=verdict_files.val_csv,
        output=tmp_path / "run",
        epochs=2,
        lr=3e-3,
        save_steps=3,
        no_progress=True,
        stdout=out,
    )

    best = tmp_path / "run" / "best_model"
    metadata = read_model_metadata(best)
    assert metadata["base_model"] == str(tiny_clip_dir)  # the active model (CLIP_MODEL_NAME)
    version = ModelVersion.objects.get(name_or_path=str(best.resolve()))
    assert version.source == ModelVersion.Source.TRAINED
    assert not version.is_active
    assert version.threshold == pytest.approx(metadata["threshold"])
    assert version.metrics["roc_auc"] == metadata["metrics"]["roc_auc"]
    assert version.training_summary["train"]["rows"] == 32
    text = out.getvalue()
    assert "Epoch 2: train loss" in text
    assert f"Registered {version.version} (not active)" in text
    assert [p.name for p in sorted((tmp_path / "run").glob("checkpoint-*"))] == [
        "checkpoint-3",
        "checkpoint-6",
    ]


def test_without_a_val_csv_images_of_the_train_csv_are_held_out(
    verdict_files, tiny_clip_dir, tmp_path
):
    call_command(
        "train_clip",
        train_csv=verdict_files.val_csv,  # 16 rows: small and quick
        model=str(tiny_clip_dir),
        output=tmp_path / "run",
        epochs=1,
        val_fraction=0.5,
        no_progress=True,
        no_register=True,
        stdout=StringIO(),
    )

    summary = read_model_metadata(tmp_path / "run" / "best_model")["training_summary"]
    assert summary["train"]["images"] + summary["val"]["images"] == 8
    assert summary["train"]["rows"] + summary["val"]["rows"] == 16
    assert not ModelVersion.objects.filter(source=ModelVersion.Source.TRAINED).exists()


def test_a_broken_csv_trains_nothing_and_lists_every_bad_row(
    verdict_files, tiny_clip_dir, tmp_path
):
    broken = tmp_path / "train.csv"
    lines = verdict_files.train_csv.read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",perhaps"
    lines[4] = "train/nowhere.png,a red cotton t-shirt,match"
    broken.write_text("\n".join(lines) + "\n")
    bad_val = tmp_path / "val.csv"
    bad_val.write_text("image_path,text,label\n../escape.png,a red t-shirt,match\n")

    with pytest.raises(CommandError) as caught:
        call_command(
            "train_clip",
            train_csv=broken,
            val_csv=bad_val,
            root_dir=verdict_files.root,
            model=str(tiny_clip_dir),
            output=tmp_path / "run",
            no_progress=True,
        )

    message = str(caught.value)
    assert "Nothing was trained" in message
    assert "row 3: train.csv: label 'perhaps'" in message
    assert "row 5: train.csv: image" in message and "does not exist" in message
    assert "row 2: val.csv: image_path '../escape.png' contains '..'" in message
    assert not (tmp_path / "run").exists()


def test_resume_needs_an_output_directory(verdict_files, tiny_clip_dir):
    with pytest.raises(CommandError, match="--resume needs --output"):
        call_command(
            "train_clip", train_csv=verdict_files.train_csv, model=str(tiny_clip_dir), resume=True
        )
