"""Building the demo model: a seconds-long run of the real build on a tiny architecture."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from transformers import CLIPModel, CLIPProcessor

from clipanalysis.clip_service import ClipService
from clipanalysis.model_metadata import read_model_metadata
from training.demo.build import (
    DemoArchitecture,
    DemoBuildConfig,
    DemoBuildReport,
    build_demo_model,
)
from training.demo.catalog import MISMATCH_TYPES
from training.demo.synthetic_eval import evaluate_on_synthetic, format_report

# A model that trains in seconds, for tests of the build itself.
TINY_ARCHITECTURE = DemoArchitecture(
    image_size=32,
    patch_size=8,
    hidden_size=32,
    intermediate_size=64,
    vision_layers=1,
    text_layers=1,
    attention_heads=2,
    projection_dim=32,
)


def tiny_build(output: Path, seed: int = 0) -> DemoBuildReport:
    config = DemoBuildConfig(
        seed=seed,
        epochs=4,
        n_train=256,
        architecture=TINY_ARCHITECTURE,
        batch_size=64,
        learning_rate=3e-3,
        n_heldout=120,
        render_size=64,
        workers=1,
        threads=1,
    )
    return build_demo_model(output, config=config, progress=False)


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory) -> DemoBuildReport:
    return tiny_build(tmp_path_factory.mktemp("demo") / "demo-clip")


def test_training_lowers_the_contrastive_loss(tiny_demo):
    assert len(tiny_demo.epoch_losses) == 4
    assert tiny_demo.epoch_losses[-1] < tiny_demo.epoch_losses[0]


def test_build_loads_with_plain_transformers(tiny_demo):
    directory = tiny_demo.output_dir
    assert (directory / "model.safetensors").is_file()
    assert not list(directory.glob("*.bin"))
    model = CLIPModel.from_pretrained(directory)
    processor = CLIPProcessor.from_pretrained(directory)
    assert model.config.text_config.vocab_size == 49408
    assert processor.image_processor.crop_size["height"] == TINY_ARCHITECTURE.image_size


def test_threshold_and_training_summary_travel_with_the_model(tiny_demo):
    metadata = read_model_metadata(tiny_demo.output_dir)
    assert 0.0 <= metadata["threshold"] <= 1.0
    assert metadata["threshold"] == pytest.approx(tiny_demo.threshold)
    assert metadata["base_model"] == "scratch"
    assert metadata["seeds"]["train"] != metadata["seeds"]["heldout"]
    assert metadata["training"]["pattern_text_rate"] < 0.5
    assert set(metadata["metrics"]["heldout_synthetic"]["auc_by_type"]) == set(MISMATCH_TYPES)


def test_the_demo_model_ships_its_calibration_and_the_registry_takes_it(tiny_demo, db):
    from clipanalysis.registry import register_model

    calibration = read_model_metadata(tiny_demo.output_dir)["calibration"]
    assert calibration["n_verdicts"] > 0 and "held-out synthetic" in calibration["method"]
    registered = register_model(tiny_demo.output_dir, source="demo")
    assert registered.calibration["shipped"] is True
    assert registered.calibration["coef"] == calibration["coef"]


def test_synthetic_evaluation_reports_every_mismatch_type(tiny_demo):
    service = ClipService.load(tiny_demo.output_dir, device="cpu", dtype="float32")
    evaluation = evaluate_on_synthetic(service, seed=4242, n=80, threshold=tiny_demo.threshold)
    assert set(evaluation.auc_by_type) == set(MISMATCH_TYPES)
    for auc in [evaluation.overall_auc, *evaluation.auc_by_type.values()]:
        assert not math.isnan(auc)
        assert 0.0 <= auc <= 1.0
    assert 0.0 <= evaluation.accuracy_at_threshold <= 1.0
    assert len(evaluation.scores) == len(evaluation.labels) == 80
    report = format_report(evaluation)
    assert all(kind in report for kind in MISMATCH_TYPES)


def test_rebuild_replaces_the_model_and_leaves_no_temporary_directory(tmp_path):
    output = tmp_path / "demo-clip"
    first = tiny_build(output, seed=1)
    weights = (output / "model.safetensors").read_bytes()
    tiny_build(output, seed=2)
    assert (output / "model.safetensors").read_bytes() != weights
    assert first.output_dir == output.resolve()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["demo-clip"]
    # Readable like any other folder (mkdtemp would leave it owner-only).
    umask = os.umask(0)
    os.umask(umask)
    assert output.stat().st_mode & 0o777 == 0o777 & ~umask
    assert (output / "model.safetensors").stat().st_mode & 0o777 == 0o666 & ~umask


def test_command_skips_an_existing_model(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    call_command("build_demo_model", output=str(tmp_path))
    assert "already exists" in capsys.readouterr().out
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json"]


def test_command_never_replaces_a_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CommandError, match="not a model directory"):
        call_command("build_demo_model", output=str(tmp_path), force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_progress_shows_rendering_then_training_then_held_out_scoring(tmp_path, capsys):
    config = DemoBuildConfig(
        seed=0,
        epochs=1,
        n_train=64,
        architecture=TINY_ARCHITECTURE,
        batch_size=64,
        n_heldout=40,
        render_size=64,
        workers=1,
        threads=1,
    )
    build_demo_model(tmp_path / "demo-clip", config=config, progress=True)
    err = capsys.readouterr().err
    assert "rendering packshots" in err and "64/64" in err
    assert err.index("rendering packshots") < err.index("demo CLIP")
    # The held-out phase after training shows progress too, not minutes of silence.
    assert "rendering held-out pairs" in err and "scoring held-out pairs" in err
    assert "40/40" in err[err.index("scoring held-out pairs") :]
    assert err.index("demo CLIP") < err.index("rendering held-out pairs")
    assert err.index("rendering held-out pairs") < err.index("scoring held-out pairs")
