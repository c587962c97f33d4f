"""The start-up model switch wherever the service starts: the WSGI app and queue workers.

``manage.py serve`` is tested in test_serve_command.py; here the same switch runs when
the web application is loaded (gunicorn, ``runserver``) or a django-q2 worker spawns.
"""

from __future__ import annotations

import importlib
import logging
import sys

import pytest
from django.core.management import call_command
from django.db import DatabaseError
from django_q.conf import Conf
from django_q.signals import post_spawn

from clipanalysis import serving
from clipanalysis.models import ModelActivation, ModelVersion
from tests.clipanalysis.test_serve_command import loads_counted

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_process(settings, tmp_path, monkeypatch):
    """Each test is a process that has not applied its start-up yet."""
    settings.VAR_DIR = tmp_path / "var"
    settings.ANALYSIS_SWEEP_SECONDS = 0  # post_spawn also starts the sweeper; not here
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(serving, "_applied_in_this_process", False)


@pytest.fixture
def served(capsys):
    """A first `serve` start on the tiny model, as an operator's last start."""
    call_command("serve", prepare_only=True)
    capsys.readouterr()
    return ModelVersion.objects.active().get()


def start_web_application():
    """Load config/wsgi.py as gunicorn and runserver do (afresh: it runs at import)."""
    sys.modules.pop("config.wsgi", None)
    return importlib.import_module("config.wsgi").application


def test_web_start_up_activates_a_changed_clip_model_name(served, settings, other_clip_dir):
    settings.CLIP_MODEL_NAME = str(other_clip_dir)
    start_web_application()
    active = ModelVersion.objects.active().get()
    assert active.name_or_path == str(other_clip_dir.resolve())
    record = ModelActivation.objects.first()
    assert (record.kind, record.previous, record.configured_model) == (
        ModelActivation.Kind.START_UP,
        served,
        str(other_clip_dir),
    )


def test_an_unloadable_name_keeps_the_active_model_and_warns(served, settings, tmp_path, caplog):
    settings.CLIP_MODEL_NAME = str(tmp_path / "typo-model")
    with caplog.at_level(logging.WARNING, logger="clipanalysis.serving"):
        choice = serving.apply_configured_model("web")
    assert choice.refused and choice.model_version == served
    assert ModelVersion.objects.active().get() == served
    assert ModelVersion.objects.count() == 1
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"web start-up: REFUSED CLIP_MODEL_NAME={tmp_path / 'typo-model'}" in warning.message
    assert f"Still scoring with {served.version}" in warning.message


def test_an_unchanged_configuration_loads_no_model(served, monkeypatch):
    loads = loads_counted(monkeypatch)
    assert serving.apply_configured_model("web") is None
    assert loads == []
    assert ModelVersion.objects.active().get() == served


def test_it_runs_once_per_process(served, settings, other_clip_dir):
    assert serving.apply_configured_model("web") is None  # unchanged: nothing to do
    settings.CLIP_MODEL_NAME = str(other_clip_dir)
    assert serving.apply_configured_model("web") is None  # this process already started
    assert ModelVersion.objects.active().get() == served


def test_a_queue_worker_spawning_applies_the_same_switch(
    served, settings, other_clip_dir, monkeypatch
):
    monkeypatch.setattr(Conf, "SYNC", False)  # a real worker process
    settings.CLIP_MODEL_NAME = str(other_clip_dir)
    post_spawn.send(sender="django_q", proc_name="Process-1")
    assert ModelVersion.objects.active().get().name_or_path == str(other_clip_dir.resolve())


def test_sync_mode_tasks_do_not_trigger_it(served, settings, other_clip_dir):
    # Conf.SYNC is on in tests: django-q2 sends post_spawn inside the caller's process.
    settings.CLIP_MODEL_NAME = str(other_clip_dir)
    post_spawn.send(sender="django_q", proc_name="MainProcess")
    assert ModelVersion.objects.active().get() == served


def test_other_commands_do_not_trigger_it(served, settings, other_clip_dir):
    settings.CLIP_MODEL_NAME = str(other_clip_dir)
    call_command("migrate", interactive=False, verbosity=0)
    call_command("clip_info")
    assert ModelVersion.objects.active().get() == served


def test_web_start_up_never_builds_the_demo_model(settings, tmp_path, caplog):
    settings.CLIP_MODEL_NAME = "openai/clip-vit-base-patch32"  # not loadable offline
    settings.DEMO_MODEL_DIR = tmp_path / "demo-clip"  # not built
    with caplog.at_level(logging.WARNING, logger="clipanalysis.serving"):
        assert serving.apply_configured_model("web") is None
    assert not (tmp_path / "demo-clip").exists()
    assert ModelVersion.objects.count() == 0
    assert "The offline demo model is not built" in caplog.text
    assert "manage.py build_demo_model" in caplog.text


def test_a_database_error_never_fails_start_up(monkeypatch, capsys):
    def broken() -> None:
        raise DatabaseError("no such table: clipanalysis_modelactivation")

    monkeypatch.setattr(serving, "last_configured_model", broken)
    assert start_web_application() is not None  # the application still loads
    # Loading it re-applies LOGGING, so the warning is read where the console handler writes.
    err = capsys.readouterr().err
    assert "web start-up: CLIP_MODEL_NAME=" in err
    assert "DatabaseError: no such table" in err
