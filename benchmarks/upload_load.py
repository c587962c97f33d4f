"""Load on the seed ``/upload`` under gunicorn: N concurrent clients for S seconds.

Loopback only, bounded in time, stops by itself. A fresh database of its own
(SQLite, or PostgreSQL with ``--database postgres`` and ``DATABASE_URL``), the
tiny test CLIP, no worker running (``?async=1``: what is measured is the web
path: parse, check the image, store it, record the analysis). Every upload is
a different image; afterwards the database must hold exactly one image and one
pending analysis per accepted upload, and no answer may be a 5xx.

    .venv/bin/python benchmarks/upload_load.py --database sqlite --clients 16 --seconds 30
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python benchmarks/upload_load.py --database postgres --clients 16 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The helpers below import the project's modules: settings first (this process only builds
# files and counts; the server under test runs with its own environment).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only")
import django

django.setup()

from tests.hostile_corpus import flat_png  # noqa: E402  (after django.setup())
from tests.live_server import LiveWorld  # noqa: E402
from tests.tiny_clip import build_tiny_clip  # noqa: E402

COUNT_CODE = (
    "from catalog.models import ProductImage; from clipanalysis.models import AnalysisResult;"
    "import json; print(json.dumps([ProductImage.objects.count(), AnalysisResult.objects.count()]))"
)


def counts(world: LiveWorld) -> list[int]:
    """[images, analyses] in the server's database (the shell's last line)."""
    return json.loads(world.manage("shell", "-c", COUNT_CODE).stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) * 2 + 1)
    args = parser.parse_args()
    if args.database == "postgres" and not os.environ.get("DATABASE_URL", "").startswith(
        "postgres"
    ):
        parser.error("--database postgres needs DATABASE_URL=postgres://…")
    if args.database == "sqlite":
        os.environ.pop("DATABASE_URL", None)

    cpu = cpu_line()
    with tempfile.TemporaryDirectory(prefix="upload-load-") as folder:
        work = Path(folder)
        world = LiveWorld(work / "world", build_tiny_clip(work / "clip"), name="bench").prepare()
        try:
            server = world.start(
                "gunicorn", workers=args.workers, env={"DATABASE_CONN_MAX_AGE": "60"}
            )
            token = world.seed["tokens"]["writer"]
            before = counts(world)
            results = run_load(server.url, token, args.clients, args.seconds)
            after = counts(world)
        finally:
            world.close()
    report(args, results, before, after, cpu)


def run_load(url: str, token: str, clients: int, seconds: float) -> list[tuple[int, float]]:
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))
    lock = threading.Lock()
    results: list[tuple[int, float]] = []

    def client(_index: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        while time.monotonic() < deadline:
            with lock:
                number = next(counter)
            data = flat_png(320, 320, f"upload {number}".encode())
            started = time.perf_counter()
            try:
                status = session.post(
                    f"{url}/upload?async=1",
                    data={"description": f"Red cotton t-shirt {number}", "sku": f"LOAD-{number}"},
                    files={"file": (f"{number}.png", data, "image/png")},
                    timeout=60,
                ).status_code
            except requests.RequestException:
                status = 0
            with lock:
                results.append((status, time.perf_counter() - started))

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    results.append((-1, time.monotonic() - started))  # the wall time, taken off in report()
    return results


def cpu_line() -> str:
    """The CPU, whether it has AMX, and how busy the machine was (others' work counts)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"CPU: {model}, {os.cpu_count()} cores, amx_bf16: {'amx_bf16' in info}; "
        f"load average before the run {load}"
    )


def report(args, results, before, after, cpu) -> None:
    wall = results.pop()[1]
    statuses = Counter(status for status, _ in results)
    latencies = sorted(latency for _, latency in results)
    accepted = sum(count for status, count in statuses.items() if 200 <= status < 300)
    stored, analyses = after[0] - before[0], after[1] - before[1]
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    print(cpu)
    print(
        f"{args.database}: {len(results)} uploads by {args.clients} clients in {wall:.1f} s "
        f"under gunicorn ({args.workers} workers): {len(results) / wall:.1f} req/s, "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; "
        f"statuses {dict(sorted(statuses.items()))}; stored {stored} images, {analyses} analyses"
    )
    server_errors = sum(count for status, count in statuses.items() if status >= 500 or status == 0)
    # A valid upload that is refused (4xx) is lost too, as is one answered 2xx but not stored.
    lost = (len(results) - accepted - server_errors) + (accepted - stored)
    if server_errors or lost or analyses != stored:
        sys.exit(f"FAILED: {server_errors} 5xx/errors, {lost} lost uploads")


if __name__ == "__main__":
    main()
