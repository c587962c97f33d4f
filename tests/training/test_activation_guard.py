"""The activation guard refuses a worse candidate (with the table) and accepts a better one;
a guarded activation refits the calibration from held-out verdicts."""

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from clipanalysis.models import ModelActivation
from clipanalysis.registry import activate, active_model, register_model
from training.comparison import compare_scores

pytestmark = pytest.mark.django_db


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


def test_the_tables_roc_auc_is_scikit_learns_ties_included():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    labels = rng.random(80) > 0.4
    active = np.round(rng.random(80), 1)  # many ties
    candidate = active + labels * 0.3
    comparison = compare_scores(labels, active, candidate, [{} for _ in labels], rounds=5)
    assert comparison.overall.active_auc == pytest.approx(roc_auc_score(labels, active))
    assert comparison.overall.candidate_auc == pytest.approx(roc_auc_score(labels, candidate))


def test_the_admin_action_goes_through_the_same_guard(
    client, admin_user, heldout_verdicts, inverted_clip_dir
):
    from django.urls import reverse

    serving = active_model()
    worse = register_model(inverted_clip_dir)
    client.force_login(admin_user)
    changelist = reverse("admin:clipanalysis_modelversion_changelist")
    form = {"action": "activate_version", "_selected_action": [worse.pk], "post": "yes"}

    refused = client.post(changelist, form, follow=True)
    assert "guard refused" in refused.text and "Worse overall" in refused.text
    assert active_model() == serving

    client.post(changelist, {**form, "force": "on"}, follow=True)
    assert active_model() == worse
    assert ModelActivation.objects.get(model_version=worse).kind == ModelActivation.Kind.FORCED


def test_the_api_goes_through_the_same_guard(
    admin_user, heldout_verdicts, inverted_clip_dir, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    serving = active_model()
    worse = register_model(inverted_clip_dir)
    client = APIClient()
    client.force_authenticate(admin_user)
    url = f"/api/v1/models/{worse.pk}/activate/"

    refused = client.post(url, {}, format="json")
    assert refused.status_code == 409, refused.content
    error = refused.json()["error"]
    assert error["code"] == "activation_refused" and "Worse overall" in error["message"]
    assert active_model() == serving
    assert not ModelActivation.objects.filter(model_version=worse).exists()

    with django_capture_on_commit_callbacks(execute=True):
        forced = client.post(url, {"force": True}, format="json")
    assert forced.status_code == 200, forced.content
    assert "overall" in forced.json()["comparison"]
    assert active_model() == worse
    assert ModelActivation.objects.get(model_version=worse).kind == ModelActivation.Kind.FORCED

    back = client.post(f"/api/v1/models/{serving.pk}/activate/", {}, format="json")
    assert back.status_code == 200, back.content
    assert back.json()["message"] == "Activated: the guard accepted the candidate."
    assert active_model() == serving


def test_register_model_activate_goes_through_the_guard(heldout_verdicts, inverted_clip_dir):
    serving = active_model()
    with pytest.raises(CommandError, match="guard refused"):
        call_command("register_model", str(inverted_clip_dir), "--activate")
    assert active_model() == serving


def test_with_too_few_verdicts_a_new_model_is_still_calibrated_on_the_heldout_pairs(
    heldout_verdicts, inverted_clip_dir, settings
):
    original = active_model()
    activate(register_model(inverted_clip_dir))
    settings.CALIBRATION_MIN_VERDICTS = 500  # far more than the 12 held-out verdicts

    call_command("activate_model", original.version)

    original.refresh_from_db()
    assert "too few verdicts" in original.calibration["method"]
    assert original.calibration["n_verdicts"] == 12
