"""Kill a worker cluster mid-batch: its rows are picked up again, and nothing runs twice.

Redis + PostgreSQL, two real ``qcluster`` processes sharing one queue. Cluster A starts
alone, so it is certain to claim a batch (``CLIP_BATCH_SIZE`` rows per wake-up: were
both started together, whichever came up first could claim every row); the moment it
holds running rows its whole process group is frozen (SIGSTOP, so nothing it holds can
finish), cluster B is started, and once B reports itself running, A is SIGKILLed. B
must then finish every row: exactly one current result per image, no duplicate
results, embeddings or review items. The recovery bound is asserted on the rows' own
timestamps: the dead holder's lease ran out at most one lease after the kill, and B's
sweeper released and re-sent the row at most one sweep after the later of the kill and
the lease's expiry, or a wake-up naming the row took it over once the lease had lapsed
(a re-sent wake-up waits behind the rest of the queue, so the claim time is printed, not
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
BATCH_SIZE = 4
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
    for pk, owner, expires, started in rows(
        database_url,
        "SELECT id, lease_owner, lease_expires_at, started_at FROM clipanalysis_analysisresult "
        "WHERE status = 'running'",
    ):
        try:
            if os.getpgid(int(owner.split(":")[1])) == group:
                held.append((pk, owner, expires, started))
        except (IndexError, ValueError, ProcessLookupError):
            continue
    return held


def freeze_while_holding(database_url: str, cluster: subprocess.Popen, timeout: float = 180):
    """SIGSTOP the cluster's process group at a moment it holds at least one running row;
    returns the rows it held then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if held_by(database_url, cluster.pid):
            os.killpg(cluster.pid, signal.SIGSTOP)  # frozen: nothing it holds can finish
            held = held_by(database_url, cluster.pid)
            if held:
                return held
            os.killpg(cluster.pid, signal.SIGCONT)  # it finished just before: try again
        time.sleep(0.01)
    raise AssertionError("cluster A never held a running row")


def wait_until_running(cluster: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Until django-q2 logs that the cluster's workers are up (its sweepers with them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster.poll() is not None:
            raise AssertionError(f"cluster B exited:\n{log.read_text()[-3000:]}")
        if log.exists() and "running." in log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"cluster B did not start in {timeout} s:\n{log.read_text()[-3000:]}")


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
            "CLIP_BATCH_SIZE": str(BATCH_SIZE),
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
        clusters.append(start_cluster(world, tmp_path / "cluster-a.log"))
        held = freeze_while_holding(database_url, clusters[0])
        clusters.append(start_cluster(world, tmp_path / "cluster-b.log"))
        wait_until_running(clusters[1], tmp_path / "cluster-b.log")
        killed_at = datetime.now(UTC)
        os.killpg(clusters[0].pid, signal.SIGKILL)
        clusters[0].wait(timeout=30)
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
        released, reclaimed, taken_over = [], [], 0
        for pk, _owner, expired_at, claimed_by_a in held:
            attempts, enqueued_at, reclaimed_at = by_id[pk]
            assert attempts == 2  # run again once, by B; A's run never wrote
            # The lease logic: A's lease ran at most one lease past the kill, and B took
            # the row only once it had lapsed. Either B's sweeper released and re-sent it
            # (its enqueued_at moved past A's claim) within one sweep of the later of the
            # expiry and the kill (A was frozen while B started, so its lease may have run
            # out first), or a wake-up naming the row reached B after the lease lapsed
            # and took it over directly. (enqueued_at is the re-send's time, written just
            # after the release: a worker's batch may claim the row in between.)
            assert expired_at <= killed_at + timedelta(seconds=LEASE_SECONDS)
            assert reclaimed_at >= expired_at
            if enqueued_at > claimed_by_a:
                sweep_due = max(expired_at, killed_at)
                assert expired_at <= enqueued_at
                assert enqueued_at <= sweep_due + timedelta(seconds=SWEEP_SECONDS + SWEEP_MARGIN)
                released.append((enqueued_at - killed_at).total_seconds())
            else:
                taken_over += 1
            reclaimed.append((reclaimed_at - killed_at).total_seconds())
        print(
            f"\nkilled cluster A holding {len(held)} row(s) (lease {LEASE_SECONDS} s, sweep "
            f"every {SWEEP_SECONDS} s): {len(released)} released by the sweeper "
            f"({', '.join(f'{s:.1f}' for s in released)} s after the kill), {taken_over} taken "
            f"over by a wake-up; claimed again by B {', '.join(f'{s:.1f}' for s in reclaimed)} "
            f"s after the kill; {PRODUCTS}/{PRODUCTS} done, exactly once"
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
