"""A real django-q2 worker process, a real broker (ORM and Redis) and a real database file.

Nothing here runs in sync mode: a product is saved in one process, the task
travels through the broker, and a `qcluster` process scores it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

CREATE_PRODUCT = """
from tests.factories import add_image, make_product
add_image(make_product("Red cotton t-shirt", sku="E2E-1"))
"""


def redis_available() -> bool:
    try:
        return bool(redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def manage(env: dict, *args: str, **kwargs) -> subprocess.Popen | subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=180, **kwargs
    )


def wait_for_result(db_path: Path, timeout: float = 180) -> tuple[str, float | None, str]:
    deadline = time.monotonic() + timeout
    row = None
    while time.monotonic() < deadline:
        with sqlite3.connect(db_path) as connection:
            row = connection.execute(
                "SELECT status, similarity_score, error FROM clipanalysis_analysisresult"
            ).fetchone()
        if row and row[0] in ("done", "failed"):
            return row
        time.sleep(0.5)
    raise AssertionError(f"analysis did not finish in {timeout}s (last row: {row})")


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["orm", "redis"])
def test_saved_product_is_scored_by_a_separate_worker_process(broker, tmp_path, tiny_clip_dir):
    if broker == "redis" and not redis_available():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    db_path = tmp_path / "db.sqlite3"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        SECRET_KEY="e2e-test",
        SQLITE_PATH=str(db_path),
        MEDIA_ROOT=str(tmp_path / "media"),
        VAR_DIR=str(tmp_path),
        CLIP_MODEL_NAME=str(tiny_clip_dir),
        CLIP_DTYPE="float32",
        CLIP_DEVICE="cpu",
        Q_WORKERS="1",
        Q_CLUSTER_NAME=f"e2e-{uuid.uuid4().hex[:8]}",
        PYTHONPATH=str(ROOT),
    )
    if broker == "redis":
        env["REDIS_URL"] = REDIS_URL
    manage(env, "migrate", "-v0")
    manage(env, "shell", "-c", CREATE_PRODUCT)

    with sqlite3.connect(db_path) as connection:
        (status,) = connection.execute("SELECT status FROM clipanalysis_analysisresult").fetchone()
    assert status == "pending"  # queued in the broker, not run inline

    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        status, score, error = wait_for_result(db_path)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert status == "done", error
    assert 0.0 <= score <= 1.0
