"""Bounded resources on real servers (issue 16 #3, #4; issue 12's shared throttles).

- 16 concurrent uploads of 6300×6300 PNGs keep the development server's peak
  memory within ``UPLOAD_MEMORY_CEILING_MB`` of what it held before (each used
  to cost ~450 MB: the check decoded it at full size).
- 240 requests on fresh connections, 16 at a time, leave PostgreSQL with at most
  a connection per concurrent request under the development server and one per
  worker under gunicorn, and none left open afterwards by the development server.
- Throttle counters are shared by two gunicorns through Redis.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import redis
import requests

from tests.hostile_corpus import flat_png
from tests.live_server import LiveWorld, postgres_url

pytestmark = pytest.mark.slow
UPLOAD_MEMORY_CEILING_MB = 300
CONCURRENCY = 16
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/2")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_16_concurrent_6300px_uploads_stay_under_the_memory_ceiling(tmp_path, tiny_clip_dir):
    world = LiveWorld(tmp_path, tiny_clip_dir, name="memory").prepare()
    try:
        server = world.start("runserver")
        token = world.seed["tokens"]["writer"]
        product = world.seed["products"][0]

        def post(data: bytes, name: str) -> int:
            return requests.post(
                f"{server.url}/api/v1/images/",
                headers={"Authorization": f"Token {token}"},
                data={"product": product},
                files={"image": (name, data, "image/png")},
                timeout=120,
            ).status_code

        assert post(flat_png(64, 64, b"warm-up"), "warm.png") == 201  # imports, first query
        before = peak_rss_mb(server.process.pid)
        files = [flat_png(6300, 6300, f"image {index}".encode()) for index in range(CONCURRENCY)]
        assert all(len(data) < 300_000 for data in files)
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            statuses = list(pool.map(post, files, [f"big-{i}.png" for i in range(CONCURRENCY)]))
        after = peak_rss_mb(server.process.pid)
        assert statuses == [201] * CONCURRENCY, statuses
        print(f"peak RSS {before:.0f} MB -> {after:.0f} MB for {CONCURRENCY} x 6300x6300 PNG")
        assert after - before < UPLOAD_MEMORY_CEILING_MB, (before, after)
    finally:
        world.close()


def count_connections(admin_url: str, database: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        return connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database]
        ).fetchone()[0]


@pytest.mark.skipif(postgres_url() is None, reason="needs DATABASE_URL for PostgreSQL")
@pytest.mark.parametrize(
    ("server", "workers", "env", "bound"),
    [
        ("runserver", 1, {}, CONCURRENCY + 2),
        ("gunicorn", 2, {"DATABASE_CONN_MAX_AGE": "60"}, 2 + 2),
    ],
    ids=["runserver", "gunicorn"],
)
def test_240_fresh_connections_do_not_exhaust_postgresql(
    tmp_path, tiny_clip_dir, server, workers, env, bound
):
    world = LiveWorld(tmp_path, tiny_clip_dir, name=f"conn_{server}").prepare()
    try:
        live = world.start(server, workers=workers, env=env)
        token = world.seed["tokens"]["reader"]
        database = world.database_url.rsplit("/", 1)[1]
        admin = world.database_url.rsplit("/", 1)[0] + "/postgres"
        peak = [0]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], count_connections(admin, database))
                time.sleep(0.05)

        def fresh_request(_index: int) -> int:
            with requests.Session() as session:  # a new TCP connection every time
                return session.get(
                    f"{live.url}/api/v1/products/",
                    headers={"Authorization": f"Token {token}", "Connection": "close"},
                    timeout=60,
                ).status_code

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                statuses = list(pool.map(fresh_request, range(240)))
        finally:
            done.set()
            watcher.join()
        assert statuses == [200] * 240, sorted(set(statuses))
        print(f"{server}: at most {peak[0]} connections to {database} during 240 requests")
        assert peak[0] <= bound, peak[0]
        if server == "runserver":
            deadline = time.monotonic() + 10
            while count_connections(admin, database) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert count_connections(admin, database) == 0  # every one was closed
    finally:
        world.close()


def redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.mark.skipif(not redis_reachable(), reason=f"no Redis at {TEST_REDIS_URL}")
def test_throttle_counters_are_shared_by_processes_through_redis(tmp_path, tiny_clip_dir):
    world = LiveWorld(
        tmp_path,
        tiny_clip_dir,
        name="throttle",
        extra_env={
            "REDIS_URL": TEST_REDIS_URL,
            "CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            "API_THROTTLE_USER": "5/minute",
        },
    ).prepare()
    try:
        first, second = world.start("gunicorn"), world.start("gunicorn")
        token = world.seed["tokens"]["reader"]
        statuses = [
            requests.get(
                f"{server.url}/api/v1/products/",
                headers={"Authorization": f"Token {token}"},
                timeout=30,
            ).status_code
            for server in [first, second] * 4
        ]
        # Each process alone would allow all 8 (4 each, under 5): together they allow 5.
        assert statuses.count(200) == 5 and statuses.count(429) == 3, statuses
    finally:
        world.close()
