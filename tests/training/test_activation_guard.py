"""The activation guard refuses a worse candidate (with the table) and accepts a better one;
a guarded activation refits the calibration from held-out verdicts."""

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from transformers import CLIPModel, CLIPProcessor

from clipanalysis.clip_service import ClipService
from clipanalysis.models import ModelActivation
from clipanalysis.registry import activate, active_model, register_model
from tests.verdict_factories import product_with_images, rule
from training.comparison import compare_scores, cosine_scores

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def inverted_clip_dir(tmp_path_factory, tiny_clip_dir):
    """The tiny CLIP with its text projection negated: every cosine flips sign, so it ranks
    every pair the other way round (a deliberately worse model where the tiny one is right)."""
    directory = tmp_path_factory.mktemp("inverted-clip")
    model = CLIPModel.from_pretrained(tiny_clip_dir)
    model.text_projection.weight.data.mul_(-1)
    model.save_pretrained(directory, safe_serialization=True)
    CLIPProcessor.from_pretrained(tiny_clip_dir).save_pretrained(directory)
    return directory


@pytest.fixture
def heldout_verdicts(settings, reviewer, scoring_model, tiny_clip_dir):
    """12 held-out products whose verdicts agree with the tiny CLIP's ranking: the half it
    scores highest are matches. Texts name no attribute, so the set is the verdicts alone."""
    settings.TRAINING_HELDOUT_FRACTION = 0.999
    settings.ACTIVATION_GUARD_MIN_PAIRS = 6
    settings.ACTIVATION_GUARD_MIN_SLICE = 1000
    settings.CALIBRATION_MIN_VERDICTS = 6
    images = []
    for index in range(12):
        _, (image,) = product_with_images(f"Listing number {index}", category="", seed=index)
        images.append(image)
    service = ClipService.load(tiny_clip_dir, device="cpu", dtype="float32")
    cosines = cosine_scores(
        service, [i.image.path for i in images], [i.product.description for i in images]
    )
    median = np.median(cosines)
    for image, cosine in zip(images, cosines, strict=True):
        rule(image, "match" if cosine > median else "mismatch", reviewer=reviewer)
    return images


def test_the_guard_refuses_a_worse_candidate_with_the_table(heldout_verdicts, inverted_clip_dir):
    serving = active_model()
    worse = register_model(inverted_clip_dir)

    with pytest.raises(CommandError, match="guard refused"):
        call_command("activate_model", worse.version)

    assert active_model() == serving
    assert not ModelActivation.objects.filter(model_version=worse).exists()


def test_the_guard_accepts_a_better_candidate_and_refits_its_calibration(
    heldout_verdicts, inverted_clip_dir, tiny_clip_dir, capsys
):
    original = active_model()
    activate(register_model(inverted_clip_dir))  # the worse model serves now
    assert original.calibration is None

    call_command("activate_model", original.version)

    out = capsys.readouterr().out
    assert "Guard: the candidate is no worse overall" in out and "overall" in out
    assert active_model() == original
    record = ModelActivation.objects.filter(model_version=original).first()
    assert record.kind == ModelActivation.Kind.ACTIVATED
    assert record.metrics["accepted"] is True
    assert record.metrics["overall"]["candidate_auc"] > record.metrics["overall"]["active_auc"]
    original.refresh_from_db()
    assert original.calibration["n_verdicts"] == 12
    assert "held-out at activation" in original.calibration["method"]


def test_force_activates_a_refused_candidate_and_records_it(heldout_verdicts, inverted_clip_dir):
    worse = register_model(inverted_clip_dir)
    call_command("activate_model", worse.version, "--force")
    assert active_model() == worse
    record = ModelActivation.objects.get(model_version=worse)
    assert record.kind == ModelActivation.Kind.FORCED and record.metrics["accepted"] is False


def test_a_slice_lost_by_more_than_the_margin_is_refused_even_when_overall_is_up():
    rng = np.random.default_rng(0)
    labels = np.array([True] * 60 + [False] * 60)
    kinds = ["match"] * 60 + ["colour"] * 30 + ["pattern"] * 30
    active = np.where(labels, 0.6, 0.4) + rng.normal(0, 0.05, 120)
    active[90:] = 0.6 + rng.normal(0, 0.05, 30)  # pattern: the active model cannot tell
    candidate = active.copy()
    candidate[90:] = 0.2  # pattern mismatches: far better
    candidate[60:90] = 0.62  # colour mismatches: now above most matches
    comparison = compare_scores(
        labels, active, candidate, [{"mismatch kind": k} for k in kinds], margin=0.02, min_slice=30
    )
    assert not comparison.accepted
    assert any("mismatch kind=colour" in reason for reason in comparison.reasons)
    row = {row.name: row for row in comparison.slices}["mismatch kind=pattern"]
    assert row.delta > 0 and row.delta_ci[0] <= row.delta <= row.delta_ci[1]
