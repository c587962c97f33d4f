"""Real server processes on loopback for the tests that need one.

``LiveWorld`` migrates a database of its own once (an SQLite file, or a fresh
PostgreSQL database when ``DATABASE_URL`` names one), seeds it with
``tests/live_seed.py`` (users, hashed tokens, analysed products) and starts
gunicorn or the development server on a free loopback port. Nothing here
talks to anything but 127.0.0.1; every server is stopped by the fixture.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def fresh_postgres_database(name_suffix: str) -> str:
    """A new, empty database next to ``DATABASE_URL``'s; returns its URL."""
    url = urlparse(postgres_url())
    name = f"{url.path.lstrip('/') or 'postgres'}_{name_suffix}"
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url._replace(path=f"/{name}").geturl()


def drop_postgres_database(database_url: str) -> None:
    url = urlparse(database_url)
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.path.lstrip("/")}" WITH (FORCE)')


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class LiveWorld:
    """One database, seeded, and the environment every server of it runs with."""

    directory: Path
    model_dir: Path
    name: str = "live"
    extra_env: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    seed: dict = field(default_factory=dict)
    database_url: str | None = None
    servers: list[LiveServer] = field(default_factory=list)

    def prepare(self, seed: bool = True) -> LiveWorld:
        self.directory.mkdir(parents=True, exist_ok=True)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "CACHE_URL", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "SECRET_KEY": "live-server-test-only-" + "k" * 40,
                "DEBUG": "0",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "VAR_DIR": str(self.directory / "var"),
                "MEDIA_ROOT": str(self.directory / "media"),
                "CLIP_MODEL_NAME": str(self.model_dir),
                "CLIP_DEVICE": "cpu",
                "CLIP_DTYPE": "float32",
                "CLIP_TORCH_THREADS": "1",
                "CLIP_OFFLINE_FALLBACK": "0",
                "API_THROTTLE_ANON": "1000000/minute",
                "API_THROTTLE_USER": "1000000/minute",
                "API_THROTTLE_BATCH": "1000000/minute",
                "UPLOAD_WAIT_SECONDS": "0",
                "LOG_LEVEL": "WARNING",
                "WEB_ACCESS_LOG": "",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if postgres_url():
            self.database_url = fresh_postgres_database(self.name)
            env["DATABASE_URL"] = self.database_url
        else:
            env["SQLITE_PATH"] = str(self.directory / "db.sqlite3")
        env.update(self.extra_env)
        self.env = env
        self.manage("migrate", "--noinput", "-v", "0")
        if seed:
            outcome = self.run([sys.executable, str(ROOT / "tests" / "live_seed.py")])
            self.seed = json.loads(outcome.stdout.strip().splitlines()[-1])
        return self

    def run(self, command: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
        outcome = subprocess.run(
            command,
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if outcome.returncode != 0:
            raise RuntimeError(
                f"{command} failed:\n{outcome.stdout[-2000:]}\n{outcome.stderr[-4000:]}"
            )
        return outcome

    def manage(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return self.run([sys.executable, "manage.py", *args], env=env)

    def start(
        self,
        server: str = "gunicorn",
        *,
        workers: int = 1,
        threads: int = 1,
        env: dict | None = None,
        wait_for: str = "/healthz",
    ) -> LiveServer:
        port = free_port()
        if server == "gunicorn":
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "config" / "gunicorn.conf.py"),
                "config.wsgi:application",
            ]
            server_env = {
                "BIND": f"127.0.0.1:{port}",
                "WEB_CONCURRENCY": str(workers),
                "WEB_THREADS": str(threads),
            }
        else:
            command = [
                sys.executable,
                "manage.py",
                "runserver",
                f"127.0.0.1:{port}",
                "--noreload",
                "--insecure",
            ]
            server_env = {}
        log = self.directory / f"{server}-{port}.log"
        with log.open("w") as handle:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**self.env, **server_env, **(env or {})},
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        live = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log=log)
        self.servers.append(live)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{server} exited early:\n{live.log_tail()}")
            try:
                requests.get(live.url + wait_for, timeout=15)
                return live
            except requests.RequestException:  # not listening yet, or still importing
                time.sleep(0.3)
        live.stop()
        raise RuntimeError(
            f"{server} did not answer in {START_TIMEOUT_SECONDS} s:\n{live.log_tail()}"
        )

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()
        if self.database_url:
            drop_postgres_database(self.database_url)
            self.database_url = None
