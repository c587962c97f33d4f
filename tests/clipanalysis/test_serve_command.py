"""`manage.py serve --prepare-only`: model choice with the offline fallback, admin login."""

import shutil

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from clipanalysis.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path / "var"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no test touches the network


def test_configured_model_that_loads_is_activated_and_admin_login_printed(capsys, settings):
    call_command("serve", prepare_only=True)

    out = capsys.readouterr().out
    active = ModelVersion.objects.active().get()
    assert active.source == ModelVersion.Source.CONFIGURED
    assert active.name_or_path == str(settings.CLIP_MODEL_NAME)
    assert User.objects.filter(is_superuser=True, username="admin").exists()
    password = (settings.VAR_DIR / "admin-login.txt").read_text().split()[1]
    assert f"password {password}" in out
    assert User.objects.get(username="admin").check_password(password)


def test_unloadable_model_falls_back_to_the_demo_model_and_says_so(
    capsys, settings, tiny_clip_dir, tmp_path
):
    demo_dir = tmp_path / "demo-clip"
    shutil.copytree(tiny_clip_dir, demo_dir)  # stands in for a built demo model
    settings.DEMO_MODEL_DIR = demo_dir
    settings.CLIP_MODEL_NAME = "openai/clip-vit-base-patch32"

    call_command("serve", prepare_only=True)

    out = capsys.readouterr().out
    active = ModelVersion.objects.active().get()
    assert active.source == ModelVersion.Source.DEMO
    assert "Could not load openai/clip-vit-base-patch32" in out
    assert "OFFLINE DEMO MODEL" in out


def test_without_fallback_an_unloadable_model_is_an_error(settings):
    settings.CLIP_MODEL_NAME = "openai/clip-vit-base-patch32"
    settings.CLIP_OFFLINE_FALLBACK = False
    with pytest.raises(Exception, match="Cannot load openai/clip-vit-base-patch32"):
        call_command("serve", prepare_only=True)


def test_admin_banner_names_the_scoring_model(client, admin_user):
    call_command("serve", prepare_only=True)
    client.force_login(admin_user)
    page = client.get("/admin/").content.decode()
    assert "Scoring model:" in page
    assert ModelVersion.objects.active().get().version in page
