"""``/healthz`` (in-process and on live servers whose database or broker is down) and
``manage.py check --deploy`` with production variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.test import Client

from clipanalysis.models import AnalysisResult
from tests.factories import add_image, make_product
from tests.live_server import LiveWorld, free_port

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k8#Qm2!zR7vL0pW4xT9bN3cF6hJ1sD5gY8uA2eK7oI4rM0qZ3wX6tV9nB1",
    "ALLOWED_HOSTS": "catalog.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://catalog.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_PROXY_SSL_HEADER": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SESSION_COOKIE_SECURE": "1",
    "CSRF_COOKIE_SECURE": "1",
    "REDIS_URL": "redis://127.0.0.1:6379/0",  # only read, never connected to by the check
}


@pytest.mark.django_db
def test_healthz_reports_every_check_without_authentication(scoring_model, settings):
    response = Client().get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "model", "queue"}
    assert all(check["ok"] for check in body["checks"].values()), body
    assert body["checks"]["model"]["version"] == scoring_model.version


@pytest.mark.django_db
def test_healthz_is_degraded_not_down_when_only_the_queue_is_old(settings, scoring_model):
    settings.HEALTH_MAX_QUEUE_AGE_SECONDS = 0
    add_image(make_product())  # without a commit nothing analyses it: pending
    assert AnalysisResult.objects.filter(status="pending").exists()
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["queue"]["pending"] == 1


@pytest.mark.django_db
def test_healthz_says_when_the_model_is_pickle_only(settings, tmp_path, scoring_model):
    from clipanalysis.models import ModelVersion

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    ModelVersion.objects.filter(pk=scoring_model.pk).update(name_or_path=str(tmp_path))
    check = Client().get("/healthz").json()["checks"]["model"]
    assert check["ok"] is False and "safetensors" in check["problem"]


@pytest.mark.slow
def test_healthz_is_503_when_the_database_is_down(tmp_path, tiny_clip_dir):
    world = LiveWorld(tmp_path, tiny_clip_dir, name="dbdown")
    world.env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nothing",
        "DATABASE_CONNECT_TIMEOUT": "2",
        "REDIS_URL": "",
        "VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    try:
        server = world.start("gunicorn")
        response = requests.get(server.url + "/healthz", timeout=30)
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"]["ok"] is False
        assert int(response.headers["Retry-After"]) > 0
        api = requests.get(
            server.url + "/api/v1/products/",
            headers={"Authorization": "Token " + "a" * 64},  # looking it up needs the database
            timeout=30,
        )
        assert api.status_code == 503  # JSON, never an HTML 500
        assert api.json()["error"]["code"] == "service_unavailable"
        assert "Retry-After" in api.headers
    finally:
        world.close()


@pytest.mark.slow
def test_healthz_is_503_when_the_broker_is_down(tmp_path, tiny_clip_dir):
    world = LiveWorld(
        tmp_path,
        tiny_clip_dir,
        name="brokerdown",
        extra_env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "CACHE_URL": ""},
    )
    try:
        world.prepare(seed=False)
        server = world.start("gunicorn")
        response = requests.get(server.url + "/healthz", timeout=30)
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["broker"]["ok"] is False
    finally:
        world.close()


def run_check_deploy(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_nothing_with_production_variables():
    outcome = run_check_deploy(PRODUCTION)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "System check identified no issues" in outcome.stdout


def test_check_deploy_complains_without_them():
    outcome = run_check_deploy({"SECRET_KEY": PRODUCTION["SECRET_KEY"]})
    assert outcome.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in outcome.stderr + outcome.stdout, warning
