"""`manage.py serve --prepare-only`: model choice with the offline fallback, admin login."""

import shutil

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from clipanalysis.models import ModelActivation, ModelVersion
from clipanalysis.registry import activate, register_model

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


def loads_counted(monkeypatch) -> list[str]:
    """Every model load start-up does (the real loads run; only their names are kept)."""
    from clipanalysis.clip_service import ClipService

    names: list[str] = []
    real = ClipService.load.__func__

    def counting(cls, name_or_path, *args, **kwargs):
        names.append(str(name_or_path))
        return real(cls, name_or_path, *args, **kwargs)

    monkeypatch.setattr(ClipService, "load", classmethod(counting))
    return names


def start(capsys, **options) -> tuple[str, str]:
    call_command("serve", prepare_only=True, **options)
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_a_changed_clip_model_name_is_registered_and_activated_at_start_up(
    capsys, settings, tiny_clip_dir, other_clip_dir, monkeypatch
):
    start(capsys)
    first = ModelVersion.objects.active().get()
    assert first.name_or_path == str(tiny_clip_dir)

    settings.CLIP_MODEL_NAME = str(other_clip_dir)
    loads = loads_counted(monkeypatch)
    out, _ = start(capsys)
    active = ModelVersion.objects.active().get()
    assert active.name_or_path == str(other_clip_dir.resolve())
    assert f"CLIP_MODEL_NAME changed to {other_clip_dir}" in out
    assert f"in place of {first.version}" in out
    assert loads == [str(other_clip_dir)]  # loaded once: the check, not again to activate
    record = ModelActivation.objects.first()
    assert (record.kind, record.previous, record.configured_model) == (
        ModelActivation.Kind.START_UP,
        first,
        str(other_clip_dir),
    )


def test_an_unchanged_configuration_leaves_a_later_activation_standing(
    capsys, settings, other_clip_dir
):
    start(capsys)
    operator_choice = activate(register_model(other_clip_dir))
    out, _ = start(capsys)
    assert ModelVersion.objects.active().get() == operator_choice
    assert f"Scoring model: {operator_choice.version}" in out


def test_serve_model_option_switches_like_the_setting(capsys, other_clip_dir):
    start(capsys)
    start(capsys, model=str(other_clip_dir))
    assert ModelVersion.objects.active().get().name_or_path == str(other_clip_dir.resolve())


def test_a_changed_configuration_that_does_not_load_is_refused_loudly(capsys, settings, tmp_path):
    start(capsys)
    serving = ModelVersion.objects.active().get()
    settings.CLIP_MODEL_NAME = str(tmp_path / "typo-model")
    _, err = start(capsys)
    assert f"REFUSED CLIP_MODEL_NAME={tmp_path / 'typo-model'}" in err
    assert "is not a model directory" in err
    assert f"Still scoring with {serving.version}" in err
    assert ModelVersion.objects.active().get() == serving
    assert ModelVersion.objects.count() == 1
    # Still misconfigured at the next start: still said.
    assert "REFUSED" in start(capsys)[1]


def test_offline_restarts_keep_the_demo_model_quietly(capsys, settings, tiny_clip_dir, tmp_path):
    demo_dir = tmp_path / "demo-clip"
    shutil.copytree(tiny_clip_dir, demo_dir)
    settings.DEMO_MODEL_DIR = demo_dir
    settings.CLIP_MODEL_NAME = "openai/clip-vit-base-patch32"
    start(capsys)
    demo = ModelVersion.objects.active().get()
    records = ModelActivation.objects.count()

    out, err = start(capsys)
    assert ModelVersion.objects.active().get() == demo
    assert f"Scoring model: {demo.version}" in out and "REFUSED" not in err
    assert ModelActivation.objects.count() == records


def test_the_reason_for_building_the_demo_model_comes_before_the_build(
    capsys, settings, tiny_clip_dir, tmp_path, monkeypatch
):
    from clipanalysis.management.commands import serve

    settings.DEMO_MODEL_DIR = tmp_path / "demo-clip"
    settings.CLIP_MODEL_NAME = "openai/clip-vit-base-patch32"
    said_before_build: list[str] = []
    real_call_command = serve.call_command

    def build_stand_in(name, *args, **kwargs):
        if name != "build_demo_model":
            return real_call_command(name, *args, **kwargs)
        said_before_build.append(capsys.readouterr().out)
        shutil.copytree(tiny_clip_dir, kwargs["output"])  # the real build takes minutes

    monkeypatch.setattr(serve, "call_command", build_stand_in)
    call_command("serve", prepare_only=True)
    (before,) = said_before_build
    assert "Could not load openai/clip-vit-base-patch32" in before
    assert before.index("Could not load") < before.index("Building the offline demo model")
    assert ModelVersion.objects.active().get().source == ModelVersion.Source.DEMO


def test_on_a_database_without_start_up_history_a_refusal_is_said_once(
    capsys, settings, other_clip_dir
):
    operator_choice = activate(register_model(other_clip_dir))  # before start-ups kept history
    settings.CLIP_MODEL_NAME = "openai/clip-vit-base-patch32"  # not loadable offline
    assert "REFUSED CLIP_MODEL_NAME=openai/clip-vit-base-patch32" in start(capsys)[1]
    assert ModelVersion.objects.active().get() == operator_choice
    assert "REFUSED" not in start(capsys)[1]
    assert ModelVersion.objects.active().get() == operator_choice


def test_serve_model_option_reaches_the_web_and_worker_processes(
    capsys, other_clip_dir, monkeypatch
):
    """Both children apply CLIP_MODEL_NAME at their own start: they must see --model too,
    or they would switch back to the setting."""
    from clipanalysis.management.commands import serve

    started: list[tuple[list[str], dict | None]] = []

    class FinishedChild:
        def __init__(self, command, env=None):
            started.append((command, env))

        def poll(self):
            return 0

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(serve.subprocess, "Popen", FinishedChild)
    monkeypatch.setattr(serve.signal, "signal", lambda *args: None)
    call_command("serve", model=str(other_clip_dir))
    assert [command[2] for command, _ in started] == ["qcluster", "runserver"]
    assert all(env["CLIP_MODEL_NAME"] == str(other_clip_dir) for _, env in started)
