"""Safetensors or nothing (issue 16 #6), and commands that turn bad paths into
``CommandError`` with the row (issue 16 #7)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from django.core.management import call_command
from django.core.management.base import CommandError

from clipanalysis.clip_service import ClipService, ModelLoadError
from clipanalysis.csv_format import write_training_csv
from tests.verdict_csvs import write_colour_images


def pickle_only_copy(tiny_clip_dir: Path, target: Path) -> Path:
    """The tiny model with its weights as a pickle (``pytorch_model.bin``) only."""
    shutil.copytree(tiny_clip_dir, target)
    from safetensors.torch import load_file

    state = load_file(target / "model.safetensors")
    (target / "model.safetensors").unlink()
    torch.save(state, target / "pytorch_model.bin")
    return target


class Boom:
    """Unpickling this runs code: the file the service must never load."""

    def __reduce__(self):
        return (Path("/tmp/catalog-pwned").write_text, ("pickle ran",))


def malicious_model(tiny_clip_dir: Path, target: Path) -> Path:
    shutil.copytree(tiny_clip_dir, target)
    (target / "model.safetensors").unlink()
    torch.save({"weights": Boom()}, target / "pytorch_model.bin")
    return target


def test_a_pickle_only_directory_is_refused_with_how_to_convert(tiny_clip_dir, tmp_path):
    directory = pickle_only_copy(tiny_clip_dir, tmp_path / "pickled")
    with pytest.raises(ModelLoadError) as refused:
        ClipService.load(directory, device="cpu", dtype="float32")
    message = str(refused.value)
    assert "pytorch_model.bin" in message and "safetensors" in message
    assert "save_pretrained" in message  # how to convert it


@pytest.mark.django_db
def test_clip_commands_refuse_a_pickle_only_model(tiny_clip_dir, tmp_path):
    directory = pickle_only_copy(tiny_clip_dir, tmp_path / "pickled")
    with pytest.raises(CommandError, match="safetensors"):
        call_command("clip_info", "--model", str(directory))


@pytest.mark.django_db
def test_train_clip_refuses_a_malicious_bin_and_never_unpickles_it(
    tiny_clip_dir, tmp_path, verdict_files
):
    Path("/tmp/catalog-pwned").unlink(missing_ok=True)
    directory = malicious_model(tiny_clip_dir, tmp_path / "evil")
    with pytest.raises(CommandError, match="safetensors"):
        call_command(
            "train_clip",
            "--train-csv",
            str(verdict_files.train_csv),
            "--model",
            str(directory),
            "--output",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--no-progress",
            "--no-register",
        )
    assert not Path("/tmp/catalog-pwned").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "says"),
    [("a\x00b.png", "NUL"), ("x" * 5000 + ".png", "5,004 characters")],
    ids=["nul", "5000-chars"],
)
def test_batch_test_turns_a_bad_path_into_a_command_error_with_the_row(
    tmp_path, path, says, scoring_model
):
    rows = write_colour_images(tmp_path, "ok", 1, seed=3)
    csv = tmp_path / "pairs.csv"
    write_training_csv(csv, rows)
    with csv.open("a", encoding="utf-8") as handle:
        handle.write(f"{path},Red shirt,match\n")
    with pytest.raises(CommandError) as failed:
        call_command("batch_test", "--csv", str(csv), "--output", str(tmp_path / "out.csv"))
    assert "row 4" in str(failed.value) and says in str(failed.value)  # header, 2 rows, it


@pytest.mark.django_db
def test_batch_test_with_a_nul_in_the_csv_name_is_a_command_error(tmp_path, scoring_model):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("batch_test", "--csv", "bad\x00.csv", "--output", str(tmp_path / "o.csv"))


@pytest.mark.django_db
def test_an_export_json_beside_a_csv_cannot_move_its_root(tmp_path, scoring_model):
    """A CSV that names /etc/hostname relative to a root "/" from export.json is refused."""
    folder = tmp_path / "planted"
    folder.mkdir()
    (folder / "export.json").write_text('{"image_paths_relative_to": "/"}')
    (folder / "pairs.csv").write_text("image_path,text,label\netc/hostname,Red,match\n")
    with pytest.raises(CommandError) as failed:
        call_command(
            "batch_test", "--csv", str(folder / "pairs.csv"), "--output", str(tmp_path / "o.csv")
        )
    assert str(folder.resolve() / "etc" / "hostname") in str(failed.value)
