"""Safe registry: a model is loaded and scores one image before it is registered or
activated; every activation is recorded; rollback restores the previous model and threshold."""

import shutil

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from clipanalysis.models import ModelActivation, ModelVersion
from clipanalysis.registry import (
    ModelNotLoadable,
    activate,
    active_model,
    register_model,
    rollback,
)
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_copy(tmp_path, other_clip_dir):
    """A registered model whose weights were damaged after registration."""
    directory = tmp_path / "broken-clip"
    shutil.copytree(other_clip_dir, directory)
    model_version = register_model(directory)
    (directory / "model.safetensors").write_bytes(b"not weights at all")
    return model_version


def test_register_model_refuses_a_path_that_does_not_exist(db):
    with pytest.raises(CommandError, match="/tmp/nope is not a model directory"):
        call_command("register_model", "/tmp/nope")
    assert not ModelVersion.objects.exists()


def test_register_model_refuses_a_hub_name_that_is_not_cached(settings):
    settings.CLIP_HUB_DOWNLOADS = False
    with pytest.raises(CommandError, match="neither a model directory nor a hub model"):
        call_command("register_model", "no-such-org/no-such-clip")
    assert not ModelVersion.objects.exists()


def test_register_model_refuses_broken_weights(tmp_path, other_clip_dir):
    directory = tmp_path / "damaged"
    shutil.copytree(other_clip_dir, directory)
    (directory / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CommandError, match=r"Not registered: .* is not loadable"):
        call_command("register_model", str(directory))
    assert not ModelVersion.objects.filter(name_or_path=str(directory.resolve())).exists()


def test_activation_of_an_unloadable_model_leaves_the_active_model(scoring_model, broken_copy):
    with pytest.raises(ModelNotLoadable, match="not loadable"):
        activate(broken_copy)
    assert active_model() == scoring_model
    assert not ModelActivation.objects.filter(model_version=broken_copy).exists()


def test_admin_activation_says_not_loadable(client, admin_user, scoring_model, broken_copy):
    client.force_login(admin_user)
    page = client.post(
        reverse("admin:clipanalysis_modelversion_changelist"),
        {"action": "activate_version", "_selected_action": [broken_copy.pk], "post": "yes"},
        follow=True,
    )
    assert page.status_code == 200
    assert "Not activated, the model is not loadable" in page.text
    assert active_model() == scoring_model


def test_api_activation_answers_409_not_loadable(admin_user, scoring_model, broken_copy):
    response = token_client(admin_user).post(f"/api/v1/models/{broken_copy.pk}/activate/")
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "model_not_loadable"
    assert active_model() == scoring_model


def test_every_activation_is_recorded_with_who_and_what_it_replaced(
    admin_user, scoring_model, other_clip_dir
):
    candidate = register_model(other_clip_dir)
    activate(candidate, by=admin_user, kind=ModelActivation.Kind.FORCED, metrics={"x": 1})

    record = ModelActivation.objects.get(model_version=candidate)
    assert (record.previous, record.activated_by, record.kind) == (
        scoring_model,
        admin_user,
        ModelActivation.Kind.FORCED,
    )
    assert record.threshold == candidate.threshold and record.metrics == {"x": 1}


def test_rollback_restores_the_previous_model_and_its_threshold(scoring_model, other_clip_dir):
    activate(scoring_model)  # the history starts with the first model's activation
    served_threshold = scoring_model.threshold
    candidate = register_model(other_clip_dir, threshold=0.4)
    activate(candidate)
    # While the candidate serves, someone edits the old version's threshold.
    ModelVersion.objects.filter(pk=scoring_model.pk).update(threshold=0.9)

    back = rollback()

    assert back == scoring_model and active_model() == scoring_model
    assert back.threshold == pytest.approx(served_threshold)
    last = ModelActivation.objects.first()
    assert (last.kind, last.previous) == (ModelActivation.Kind.ROLLBACK, candidate)


def test_rollback_command_and_nothing_to_roll_back(scoring_model, other_clip_dir, capsys):
    with pytest.raises(CommandError, match="Nothing to roll back to"):
        call_command("activate_model", "--previous")
    candidate = register_model(other_clip_dir)
    activate(candidate)

    call_command("activate_model", "--previous")

    assert f"Rolled back to {scoring_model.version}" in capsys.readouterr().out
    assert active_model() == scoring_model


def test_the_model_history_admin_lists_activations(
    client, admin_user, scoring_model, other_clip_dir
):
    activate(register_model(other_clip_dir), by=admin_user)
    client.force_login(admin_user)
    page = client.get(reverse("admin:clipanalysis_modelactivation_changelist"))
    assert page.status_code == 200
    assert "admin" in page.text and scoring_model.version in page.text


@pytest.mark.parametrize(
    "command",
    [
        ["register_model", "/tmp/nope"],
        ["register_model", "/tmp/nope", "--activate"],
        ["register_model", "./nope"],
        ["activate_model", "/tmp/nope"],
    ],
)
def test_a_typo_never_becomes_the_scoring_model(scoring_model, command, capsys):
    before = set(ModelVersion.objects.values_list("pk", flat=True))
    with pytest.raises(CommandError, match="nope"):
        call_command(*command)
    assert set(ModelVersion.objects.values_list("pk", flat=True)) == before
    assert active_model() == scoring_model
    assert "Activated" not in capsys.readouterr().out
