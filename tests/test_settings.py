"""Settings come from the environment, with safe defaults."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import env_bool, env_float, env_int, env_list

ROOT = Path(__file__).resolve().parent.parent


def load_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL"}
    }
    clean.update(env)
    code = (
        "import django, json; from django.conf import settings; django.setup();"
        "db = settings.DATABASES['default']['ENGINE'];"
        "broker = 'redis' if 'redis' in settings.Q_CLUSTER else settings.Q_CLUSTER.get('orm');"
        "print(json.dumps({'debug': settings.DEBUG, 'engine': db, 'broker': broker}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_secret_key_is_required_when_debug_is_off():
    outcome = load_settings()
    assert outcome.returncode != 0
    assert "SECRET_KEY is required" in outcome.stderr


def test_defaults_are_sqlite_and_the_orm_broker_with_debug_off():
    outcome = load_settings(SECRET_KEY="x")
    assert outcome.returncode == 0, outcome.stderr
    assert '"debug": false' in outcome.stdout
    assert "sqlite3" in outcome.stdout
    assert '"broker": "default"' in outcome.stdout


def test_database_url_and_redis_url_switch_backends():
    outcome = load_settings(
        SECRET_KEY="x",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert outcome.returncode == 0, outcome.stderr
    assert "postgresql" in outcome.stdout
    assert '"broker": "redis"' in outcome.stdout


def test_env_readers_parse_and_refuse_garbage(monkeypatch):
    monkeypatch.setenv("A_BOOL", "yes")
    monkeypatch.setenv("AN_INT", "12")
    monkeypatch.setenv("A_FLOAT", "0.5")
    monkeypatch.setenv("A_LIST", "a, b,,c")
    assert env_bool("A_BOOL") is True
    assert env_int("AN_INT", 0) == 12
    assert env_float("A_FLOAT", 0.0) == 0.5
    assert env_list("A_LIST") == ["a", "b", "c"]
    assert env_int("MISSING_INT", 7) == 7
    monkeypatch.setenv("A_BOOL", "maybe")
    with pytest.raises(ValueError, match="not a boolean"):
        env_bool("A_BOOL")
    monkeypatch.setenv("AN_INT", "twelve")
    with pytest.raises(ValueError, match="not an integer"):
        env_int("AN_INT", 0)


@pytest.mark.parametrize(
    ("name", "other_value"), [("ATTRIBUTE_PROBE", "templates"), ("REVIEW_QUEUE_ORDER", "uncertain")]
)
def test_a_setting_with_fixed_values_refuses_any_other(name, other_value):
    outcome = load_settings(SECRET_KEY="x", **{name: "guess"})
    assert outcome.returncode != 0
    assert f"{name}='guess': use " in outcome.stderr
    assert load_settings(SECRET_KEY="x", **{name: other_value}).returncode == 0
