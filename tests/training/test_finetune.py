"""Fine-tuning on verdicts: it learns, saves loadable models without pickles, and resumes."""

import math
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from sklearn.metrics import roc_auc_score
from transformers import CLIPModel, CLIPProcessor

from catalog.imaging import decode_image
from clipanalysis.clip_service import ClipService
from clipanalysis.csv_format import TrainingRow, read_training_csv
from clipanalysis.model_metadata import read_model_metadata
from training.checkpoints import list_checkpoints
from training.finetune import fine_tune
from training.finetune_config import FineTuneConfig
from training.finetune_data import split_by_image
from training.losses import verdict_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Learns the colours in a few epochs; a checkpoint every 5 of the 16 optimizer steps.
CONFIG = FineTuneConfig(epochs=4, batch_size=8, lr=3e-3, save_steps=5, save_total_limit=None)


@pytest.fixture(scope="module")
def rows(verdict_files):
    return (
        read_training_csv(verdict_files.train_csv, verdict_files.root),
        read_training_csv(verdict_files.val_csv, verdict_files.root),
    )


@pytest.fixture(scope="module")
def finished_run(one_torch_thread, tiny_clip_dir, rows, tmp_path_factory):
    output = tmp_path_factory.mktemp("run")
    report = fine_tune(tiny_clip_dir, *rows, output, CONFIG, progress=False)
    return output, report


def weights(directory):
    return load_file(directory / "model.safetensors")


def test_fine_tuning_lowers_validation_loss(finished_run):
    _output, report = finished_run

    assert [epoch.epoch for epoch in report.epochs] == [1, 2, 3, 4]
    assert report.epochs[-1].val_loss < 0.7 * report.initial_val_loss
    assert report.evaluation.roc_auc > report.initial_val_roc_auc
    assert report.global_step == report.total_steps == 16


def test_best_model_loads_with_plain_transformers_and_carries_its_metadata(
    finished_run, tiny_clip_dir, rows
):
    output, report = finished_run
    best = output / "best_model"

    assert (best / "model.safetensors").is_file()
    CLIPModel.from_pretrained(best)
    CLIPProcessor.from_pretrained(best)
    metadata = read_model_metadata(best)
    assert metadata["base_model"] == str(tiny_clip_dir)
    assert metadata["model_kind"] == "trained"
    assert 0.0 <= metadata["threshold"] <= 1.0
    assert metadata["threshold"] == report.threshold
    summary = metadata["training_summary"]
    assert summary["train"] == {"rows": 32, "match": 16, "mismatch": 16, "images": 16, "texts": 4}
    assert summary["val"]["rows"] == 16
    assert len(summary["epochs"]) == 4
    aucs = [epoch.val_roc_auc for epoch in report.epochs]
    assert metadata["metrics"]["epoch"] == report.best_epoch == aucs.index(max(aucs)) + 1


def test_best_model_metrics_are_what_serving_measures(finished_run, rows):
    output, report = finished_run
    _train, val = rows
    service = ClipService.load(output / "best_model", device="cpu", dtype="float32")

    cosines = service.cosine_similarities(
        [decode_image(row.image_path).image for row in val], [row.text for row in val]
    ).numpy()

    labels = [row.is_match for row in val]
    assert roc_auc_score(labels, cosines) == pytest.approx(report.evaluation.roc_auc)
    predicted = np.clip(cosines, 0, 1) >= report.threshold
    assert np.mean(predicted == np.array(labels)) == pytest.approx(report.evaluation.accuracy)


def test_final_model_holds_the_last_weights(finished_run):
    output, report = finished_run

    last_checkpoint = output / f"checkpoint-{report.global_step // 5 * 5}"
    assert (output / "final_model" / "model.safetensors").is_file()
    assert read_model_metadata(output / "final_model")["metrics"]["epoch"] == 4
    assert not torch.equal(
        weights(output / "final_model")["visual_projection.weight"],
        weights(last_checkpoint)["visual_projection.weight"],
    )  # step 16 came after the last checkpoint (15)


def test_run_directory_holds_no_pickles(finished_run):
    output, _report = finished_run

    suffixes = {path.suffix for path in output.rglob("*") if path.is_file()}

    assert suffixes <= {".safetensors", ".json", ".txt"}
    assert [step for step, _ in list_checkpoints(output)] == [5, 10, 15]


def test_resume_continues_from_the_latest_checkpoint_and_reproduces_the_run(
    finished_run, tiny_clip_dir, rows, tmp_path
):
    output, report = finished_run
    interrupted = tmp_path / "run"
    shutil.copytree(output, interrupted)
    # As if the process died during step 11: checkpoint-10 is the latest that was saved.
    shutil.rmtree(interrupted / "checkpoint-15")
    shutil.rmtree(interrupted / "final_model")

    resumed = fine_tune(tiny_clip_dir, *rows, interrupted, CONFIG, progress=False, resume=True)

    assert resumed.resumed_from_step == 10
    assert resumed.global_step == 16
    assert [e.epoch for e in resumed.epochs] == [1, 2, 3, 4]
    assert resumed.epochs[-1].train_loss == pytest.approx(report.epochs[-1].train_loss)
    original, again = weights(output / "final_model"), weights(interrupted / "final_model")
    for name, tensor in original.items():
        torch.testing.assert_close(again[name], tensor, rtol=1e-5, atol=1e-6)


def test_resume_with_other_settings_is_refused(finished_run, tiny_clip_dir, rows, tmp_path):
    output, _report = finished_run
    shutil.copytree(output, tmp_path / "run")
    other = FineTuneConfig(**{**CONFIG.__dict__, "lr": 1e-4})

    with pytest.raises(ValueError, match="other settings"):
        fine_tune(tiny_clip_dir, *rows, tmp_path / "run", other, progress=False, resume=True)


def test_a_finished_run_is_not_overwritten(finished_run, tiny_clip_dir, rows):
    output, _report = finished_run

    with pytest.raises(ValueError, match="already holds a fine-tuning run"):
        fine_tune(tiny_clip_dir, *rows, output, CONFIG, progress=False)


def test_frozen_layers_stay_put_and_accumulation_halves_the_steps(tiny_clip_dir, rows, tmp_path):
    config = FineTuneConfig(
        epochs=1, batch_size=8, lr=3e-3, grad_accum_steps=2, freeze_vision_layers=2
    )

    report = fine_tune(tiny_clip_dir, *rows, tmp_path, config, progress=False)

    assert report.global_step == 2  # 4 batches, 2 per optimizer step
    base, tuned = weights(tiny_clip_dir), weights(tmp_path / "final_model")
    frozen = [name for name in base if name.startswith("vision_model.encoder.layers.")]
    frozen += ["vision_model.embeddings.patch_embedding.weight"]
    assert all(torch.equal(base[name], tuned[name]) for name in frozen)
    assert not torch.equal(base["visual_projection.weight"], tuned["visual_projection.weight"])
    assert not torch.equal(
        base["text_model.encoder.layers.0.mlp.fc1.weight"],
        tuned["text_model.encoder.layers.0.mlp.fc1.weight"],
    )


def squared_change(before: dict, after: dict) -> float:
    return sum(float(((after[name] - before[name]) ** 2).sum()) for name in before)


def test_anchor_weight_keeps_the_weights_near_the_start(
    finished_run, tiny_clip_dir, rows, tmp_path
):
    """L2-SP: the same run with a pull toward the starting weights moves them less."""
    output, _report = finished_run
    anchored = FineTuneConfig(**{**CONFIG.__dict__, "anchor_weight": 10.0})

    report = fine_tune(tiny_clip_dir, *rows, tmp_path, anchored, progress=False)

    base = weights(tiny_clip_dir)
    free_change = squared_change(base, weights(output / "final_model"))
    anchored_change = squared_change(base, weights(tmp_path / "final_model"))
    assert 0 < anchored_change < 0.5 * free_change
    assert report.evaluation.roc_auc > report.initial_val_roc_auc  # it still learns


def test_resumed_anchor_pulls_toward_the_start_not_the_checkpoint(tiny_clip_dir, rows, tmp_path):
    anchored = FineTuneConfig(**{**CONFIG.__dict__, "anchor_weight": 10.0})
    whole = fine_tune(tiny_clip_dir, *rows, tmp_path / "whole", anchored, progress=False)
    interrupted = tmp_path / "interrupted"
    shutil.copytree(tmp_path / "whole", interrupted)
    shutil.rmtree(interrupted / "checkpoint-15")
    shutil.rmtree(interrupted / "final_model")

    resumed = fine_tune(tiny_clip_dir, *rows, interrupted, anchored, progress=False, resume=True)

    assert resumed.epochs[-1].train_loss == pytest.approx(whole.epochs[-1].train_loss)
    original, again = (
        weights(tmp_path / "whole" / "final_model"),
        weights(interrupted / "final_model"),
    )
    for name, tensor in original.items():
        torch.testing.assert_close(again[name], tensor, rtol=1e-5, atol=1e-6)


def test_a_negative_anchor_weight_is_refused():
    with pytest.raises(ValueError, match="anchor_weight"):
        FineTuneConfig(anchor_weight=-1.0)


def test_validation_needs_both_labels(tiny_clip_dir, rows, tmp_path):
    train, val = rows

    with pytest.raises(ValueError, match="both 'match' and 'mismatch'"):
        fine_tune(tiny_clip_dir, train, [r for r in val if r.is_match], tmp_path, CONFIG)


def test_mismatch_loss_grows_when_a_mismatch_outscores_the_matches():
    unit = torch.nn.functional.normalize
    images = unit(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), dim=-1)
    texts_below = unit(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.2]]), dim=-1)
    texts_above = unit(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), dim=-1)
    is_match = torch.tensor([True, True, False])
    scale = torch.tensor(math.log(10.0))

    _, below = verdict_loss(images, texts_below, scale, is_match)
    total, above = verdict_loss(images, texts_above, scale, is_match, negative_loss_weight=2.0)

    assert above["negative"] > 2 * below["negative"]
    assert above["contrastive"] == pytest.approx(below["contrastive"])  # mismatches left out
    assert float(total) == pytest.approx(above["contrastive"] + 2.0 * above["negative"])


def test_contrastive_loss_prefers_each_image_with_its_own_text():
    unit = torch.nn.functional.normalize
    images = unit(torch.tensor([[1.0, 0.1], [0.1, 1.0]]), dim=-1)
    is_match = torch.tensor([True, True])
    scale = torch.tensor(math.log(10.0))

    _, paired = verdict_loss(images, images, scale, is_match)
    _, swapped = verdict_loss(images, images.flip(0), scale, is_match)
    _, single = verdict_loss(images[:1], images[:1], scale, is_match[:1])

    assert paired["contrastive"] < swapped["contrastive"]
    assert single["contrastive"] == 0.0  # one match row has nothing to contrast with


def test_split_by_image_keeps_an_image_on_one_side():
    rows = [
        TrainingRow(f"img/{index // 2}.png", f"text {index}", ("match", "mismatch")[index % 2])
        for index in range(20)
    ]

    train, val = split_by_image(rows, val_fraction=0.2, seed=3)

    assert len(train) + len(val) == 20
    assert len(val) == 4  # 2 of the 10 images, both rows of each
    assert not {r.image_path for r in train} & {r.image_path for r in val}
    assert split_by_image(rows, 0.2, seed=3) == (train, val)
