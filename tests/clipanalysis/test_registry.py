"""Model registry: activation, re-scoring with the new version, the command and the admin action."""

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.urls import reverse

from clipanalysis.models import AnalysisResult, ImageEmbedding, ModelVersion
from clipanalysis.pipeline import rescore_catalog
from clipanalysis.registry import activate, active_model, register_model
from tests.factories import add_image, make_product
from tests.verdict_factories import distinct_image

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scored_image():
    image = add_image(make_product("Red cotton t-shirt"), distinct_image(1))
    result = AnalysisResult.objects.current().get(image=image)
    assert result.status == AnalysisResult.Status.DONE, result.error
    return image


def test_activation_flips_the_flag_and_rescores_with_the_new_version(scored_image, other_clip_dir):
    old_version = active_model()
    old_result = AnalysisResult.objects.current().get(image=scored_image)
    new_version = register_model(other_clip_dir)
    assert new_version != old_version and not new_version.is_active

    queued = rescore_catalog(activate(new_version))

    assert queued == 1
    old_version.refresh_from_db()
    assert new_version.is_active and new_version.activated_at is not None
    assert not old_version.is_active
    assert list(ModelVersion.objects.active()) == [new_version]
    current = AnalysisResult.objects.current().get(image=scored_image)
    assert current.model_version == new_version
    assert current.status == AnalysisResult.Status.DONE, current.error
    # The old result stays readable, unchanged, no longer current.
    kept = AnalysisResult.objects.get(pk=old_result.pk)
    assert not kept.is_current
    assert kept.model_version == old_version
    assert kept.similarity_score == old_result.similarity_score
    # One embedding per (image, version): nothing of the old model's was reused.
    embeddings = ImageEmbedding.objects.filter(image_hash=scored_image.content_hash)
    assert set(embeddings.values_list("model_version", flat=True)) == {
        old_version.pk,
        new_version.pk,
    }


def test_reactivating_an_older_version_reuses_its_own_results(scored_image, other_clip_dir):
    old_version = active_model()
    old_result = AnalysisResult.objects.current().get(image=scored_image)
    rescore_catalog(activate(register_model(other_clip_dir)))

    assert rescore_catalog(activate(old_version)) == 0

    assert AnalysisResult.objects.current().get(image=scored_image).pk == old_result.pk
    assert AnalysisResult.objects.filter(image=scored_image).count() == 2


def test_activation_alone_only_switches_the_model(scored_image, other_clip_dir):
    new_version = register_model(other_clip_dir)
    activate(new_version)
    assert active_model() == new_version
    current = AnalysisResult.objects.current().get(image=scored_image)
    assert current.model_version != new_version


def test_new_products_are_scored_by_the_activated_version(other_clip_dir):
    new_version = register_model(other_clip_dir)
    rescore_catalog(activate(new_version))
    image = add_image(make_product("Blue ceramic mug"), distinct_image(2))
    assert AnalysisResult.objects.current().get(image=image).model_version == new_version


# --- commands ---------------------------------------------------------------------------------
def test_activate_model_command_takes_a_version_slug(scored_image, other_clip_dir, capsys):
    new_version = register_model(other_clip_dir)
    # No verdicts yet: the guard cannot compare, so activating takes --force.
    call_command("activate_model", new_version.version, "--force")
    assert f"Activated {new_version.version}" in capsys.readouterr().out
    assert active_model() == new_version
    assert AnalysisResult.objects.current().get(image=scored_image).model_version == new_version


def test_activate_model_command_registers_a_model_directory(scored_image, other_clip_dir, capsys):
    call_command("activate_model", str(other_clip_dir), "--force")
    out = capsys.readouterr().out
    new_version = active_model()
    assert new_version.name_or_path == str(other_clip_dir.resolve())
    assert "1 images queued for re-scoring" in out


def test_activate_model_command_rejects_an_unknown_version(db):
    with pytest.raises(CommandError, match="No model version 'nope-123'"):
        call_command("activate_model", "nope-123")
    assert not ModelVersion.objects.filter(version="nope-123").exists()


def test_register_model_command_reads_the_threshold_and_can_activate(
    scored_image, other_clip_dir, capsys
):
    call_command("register_model", str(other_clip_dir), "--threshold", "0.31")
    model_version = ModelVersion.objects.get(name_or_path=str(other_clip_dir.resolve()))
    assert model_version.threshold == pytest.approx(0.31)
    assert not model_version.is_active

    # No held-out verdicts to compare on: the guard refuses, as activate_model does.
    with pytest.raises(CommandError, match="registered but not active"):
        call_command("register_model", str(other_clip_dir), "--activate")
    assert active_model() != model_version

    call_command("register_model", str(other_clip_dir), "--activate", "--force")
    out = capsys.readouterr().out
    assert "although the guard refused it. 1 images queued" in out
    assert active_model() == model_version
    assert ModelVersion.objects.filter(name_or_path=str(other_clip_dir.resolve())).count() == 1


def test_register_model_command_refuses_a_directory_without_a_model(tmp_path):
    with pytest.raises(CommandError, match="not a model directory"):
        call_command("register_model", str(tmp_path))


# --- admin action -----------------------------------------------------------------------------
def _changelist():
    return reverse("admin:clipanalysis_modelversion_changelist")


def test_admin_action_confirms_then_activates_and_reports_queued(
    client, admin_user, scored_image, other_clip_dir
):
    new_version = register_model(other_clip_dir)
    client.force_login(admin_user)
    form = {"action": "activate_version", "_selected_action": [new_version.pk]}

    confirm = client.post(_changelist(), form)
    assert confirm.status_code == 200
    assert f"Activate {new_version.version}?" in confirm.text
    assert not ModelVersion.objects.get(pk=new_version.pk).is_active

    # No held-out verdicts yet: the guard cannot tell, so it refuses unless forced.
    refused = client.post(_changelist(), {**form, "post": "yes"}, follow=True)
    assert "Too few held-out pairs to compare" in refused.text
    assert f"{new_version.version} stays inactive" in refused.text
    assert not ModelVersion.objects.get(pk=new_version.pk).is_active

    done = client.post(_changelist(), {**form, "post": "yes", "force": "on"}, follow=True)
    assert done.status_code == 200
    assert f"{new_version.version}; 1 image(s) queued for re-scoring." in done.text
    assert active_model() == new_version
    assert AnalysisResult.objects.current().get(image=scored_image).model_version == new_version


def test_admin_action_needs_change_permission(client, scored_image, other_clip_dir):
    viewer = User.objects.create_user("viv", "viv@example.com", "view-pass-123", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_modelversion", content_type__app_label="clipanalysis")
    )
    old_version = active_model()
    new_version = register_model(other_clip_dir)
    client.force_login(viewer)

    page = client.get(_changelist())
    assert page.status_code == 200
    assert "activate_version" not in page.text
    client.post(
        _changelist(),
        {"action": "activate_version", "_selected_action": [new_version.pk], "post": "yes"},
    )
    assert active_model() == old_version


def test_activation_shows_a_bar_and_one_summary_line_not_a_line_per_image(
    scoring_model, other_clip_dir, capsys
):
    for index in range(3):
        add_image(make_product(), distinct_image(index))
    capsys.readouterr()
    call_command("register_model", str(other_clip_dir), "--activate", "--force")
    captured = capsys.readouterr()
    assert "queueing re-scoring" in captured.err and "3/3" in captured.err
    lines = [line for line in captured.out.strip().splitlines() if line.strip()]
    assert lines[0].startswith("Registered ")
    assert lines[-1].endswith("3 images queued for re-scoring.")
    assert not any("Enqueued" in line for line in lines)
