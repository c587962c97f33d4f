"""Kill a worker cluster mid-batch: its rows are picked up again, and nothing runs twice.

Redis + PostgreSQL, two real ``qcluster`` processes sharing one queue. When cluster A
holds a running row, its whole process group is frozen (SIGSTOP, so the row cannot
finish while the test looks), checked to still hold it, and SIGKILLed. Cluster B must
then finish every row: exactly one current result per image, no duplicate results,
embeddings or review items. The recovery bound is asserted on the rows' own
timestamps: the dead holder's lease ran out at most one lease after the kill, and B's
sweeper released and re-sent the row at most one sweep after that (its re-sent
wake-up then waits behind the rest of the queue, so the claim time is printed, not
bounded).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest
import redis

from tests.live_server import ROOT, LiveWorld, drop_postgres_database, postgres_url

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PRODUCTS = 24
LEASE_SECONDS = 4
SWEEP_SECONDS = 1
# The sweep's own queries on a busy machine.
SWEEP_MARGIN = 3

CREATE_PRODUCTS = f"""
from tests.factories import add_image, image_bytes, make_product, photo_like
for number in range({PRODUCTS}):
    product = make_product(f"Red cotton t-shirt {{number}}", sku=f"KILL-{{number}}")
    add_image(product, image_bytes(photo_like(number, size=(600, 600))), name=f"{{number}}.jpg")
"""


def redis_available() -> bool:
    try:
        return bool(redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def postgres_available() -> bool:
    admin = urlparse(postgres_url())._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(admin, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def start_cluster(world: LiveWorld, log: Path) -> subprocess.Popen:
    """A qcluster in a process group of its own, so the whole group can be killed."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=world.env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def rows(database_url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        return connection.execute(sql, params).fetchall()


def held_by(database_url: str, group: int) -> list[tuple]:
    """Running rows whose lease owner ("host:pid:random") is a process in ``group``."""
    held = []
    for pk, owner, expires in rows(
        database_url,
        "SELECT id, lease_owner, lease_expires_at FROM clipanalysis_analysisresult "
        "WHERE status = 'running'",
    ):
        try:
            if os.getpgid(int(owner.split(":")[1])) == group:
                held.append((pk, owner, expires))
        except (IndexError, ValueError, ProcessLookupError):
            continue
    return held


def kill_while_holding(database_url: str, cluster: subprocess.Popen, timeout: float = 180):
    """SIGKILL the cluster's process group at a moment it holds at least one running row;
    returns (kill time, the rows it held then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if held_by(database_url, cluster.pid):
            os.killpg(cluster.pid, signal.SIGSTOP)  # frozen: nothing it holds can finish
            held = held_by(database_url, cluster.pid)
            if held:
                killed_at = datetime.now(UTC)
                os.killpg(cluster.pid, signal.SIGKILL)
                cluster.wait(timeout=30)
                return killed_at, held
            os.killpg(cluster.pid, signal.SIGCONT)  # it finished just before: try again
        time.sleep(0.01)
    raise AssertionError("cluster A never held a running row")


def wait_until_all_finished(database_url: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [(unfinished,)] = rows(
            database_url,
            "SELECT count(*) FROM clipanalysis_analysisresult "
            "WHERE status IN ('pending', 'running')",
        )
        if unfinished == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"{unfinished} analyses still unfinished after {timeout} s")


@pytest.mark.slow
def test_a_killed_cluster_s_rows_are_finished_by_the_other_exactly_once(tmp_path, tiny_clip_dir):
    if not postgres_url() or not postgres_available():
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://…)")
    if not redis_available():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    cluster_name = f"kill-{uuid.uuid4().hex[:8]}"
    world = LiveWorld(
        tmp_path / "world",
        tiny_clip_dir,
        name="killtest",
        extra_env={
            "REDIS_URL": REDIS_URL,
            "CACHE_URL": "locmem://",
            "Q_CLUSTER_NAME": cluster_name,
            "Q_WORKERS": "1",
            "ANALYSIS_LEASE_SECONDS": str(LEASE_SECONDS),
            "ANALYSIS_SWEEP_SECONDS": str(SWEEP_SECONDS),
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "INFO",
        },
    )
    clusters: list[subprocess.Popen] = []
    try:
        world.prepare(seed=False)
        database_url = world.database_url
        world.manage("shell", "-c", CREATE_PRODUCTS)  # their wake-ups wait in Redis
        clusters = [start_cluster(world, tmp_path / f"cluster-{n}.log") for n in "ab"]

        killed_at, held = kill_while_holding(database_url, clusters[0])
        wait_until_all_finished(database_url)

        results = rows(
            database_url,
            "SELECT id, image_id, status, is_current, attempts, started_at "
            "FROM clipanalysis_analysisresult",
        )
        assert len(results) == PRODUCTS  # no duplicate result rows
        assert {status for _, _, status, _, _, _ in results} == {"done"}
        current = [image for _, image, _, is_current, _, _ in results if is_current]
        assert sorted(current) == sorted({image for _, image, *_ in results})  # one each
        [(embeddings, hashes)] = rows(
            database_url,
            "SELECT count(*), count(DISTINCT image_hash) FROM clipanalysis_imageembedding",
        )
        assert embeddings == hashes
        [(open_items, images_with_open)] = rows(
            database_url,
            "SELECT count(*), count(DISTINCT image_id) FROM clipanalysis_reviewitem "
            "WHERE state <> 'resolved'",
        )
        assert open_items == images_with_open

        by_id = {
            pk: (attempts, enqueued, started)
            for pk, attempts, enqueued, started in rows(
                database_url,
                "SELECT id, attempts, enqueued_at, started_at FROM clipanalysis_analysisresult",
            )
        }
        released, reclaimed = [], []
        for pk, _owner, expired_at in held:
            attempts, released_at, reclaimed_at = by_id[pk]
            assert attempts == 2  # run again once, by B; A's run never wrote
            # The lease logic: A's lease ran at most one lease past the kill, B's sweeper
            # released the row within one sweep of its expiry (plus the sweep's own time).
            assert expired_at <= killed_at + timedelta(seconds=LEASE_SECONDS)
            assert expired_at <= released_at
            assert released_at <= expired_at + timedelta(seconds=SWEEP_SECONDS + SWEEP_MARGIN)
            assert reclaimed_at >= released_at
            released.append((released_at - killed_at).total_seconds())
            reclaimed.append((reclaimed_at - killed_at).total_seconds())
        print(
            f"\nkilled cluster A holding {len(held)} row(s) (lease {LEASE_SECONDS} s, sweep "
            f"every {SWEEP_SECONDS} s): released {', '.join(f'{s:.1f}' for s in released)} s "
            f"and claimed again by B {', '.join(f'{s:.1f}' for s in reclaimed)} s after the "
            f"kill (behind the rest of the queue); {PRODUCTS}/{PRODUCTS} done, exactly once"
        )
    finally:
        for cluster in clusters:
            if cluster.poll() is None:
                cluster.terminate()
                try:
                    cluster.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(cluster.pid, signal.SIGKILL)
        redis.from_url(REDIS_URL).delete(f"django_q:{cluster_name}:q")
        if world.database_url:
            drop_postgres_database(world.database_url)
