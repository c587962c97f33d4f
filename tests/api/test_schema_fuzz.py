"""schemathesis against a live server: every default check, no failure.

A real gunicorn (two workers) on loopback, its own database (SQLite, or a fresh
PostgreSQL database when ``DATABASE_URL`` names one: NUL bytes are a classic
PostgreSQL 500), seeded with analysed, flagged products. The schemathesis
command line runs its phases (examples, coverage, fuzzing, stateful) with all
its default checks: no server error; status codes, content types, headers and
bodies as documented; schema-violating requests rejected; schema-valid ones
accepted (``tests/api/schemathesis.toml`` lists the few rules the schema
cannot express); undeclared methods answered 405; deleted resources gone.

Repeatable and bounded: a fixed seed (``API_FUZZ_SEED``) and
``API_FUZZ_MAX_EXAMPLES`` (default 10) examples per operation keep it to a
couple of minutes. ``API_FUZZ_SEED=random`` explores new inputs.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live_server import LiveWorld

pytestmark = pytest.mark.slow

MAX_EXAMPLES = os.environ.get("API_FUZZ_MAX_EXAMPLES", "10")
SEED = os.environ.get("API_FUZZ_SEED", "20261202")
CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def live_api(tmp_path_factory, tiny_clip_dir):
    world = LiveWorld(tmp_path_factory.mktemp("fuzz"), tiny_clip_dir, name="fuzz").prepare()
    server = world.start("gunicorn", workers=2)
    yield world, server
    world.close()


def test_schemathesis_finds_no_failure_against_a_live_server(live_api, tmp_path):
    world, server = live_api
    seed = str(random.randrange(1, 2**31)) if SEED == "random" else SEED
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/api/schema/",
        "--header",
        f"Authorization: Token {world.seed['tokens']['admin']}",
        "--seed",
        seed,
        "--max-examples",
        MAX_EXAMPLES,
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    outcome = run_schemathesis(command, tmp_path)
    if outcome.returncode != 0 and crashed_in_its_own_generation(outcome.stdout):
        # schemathesis itself crashed while generating cases, before any request went
        # out (seen once in CI on a loaded machine, never reproduced): that says nothing
        # about the server, so the same run is tried once more; a second crash fails.
        print(f"schemathesis crashed generating cases; retrying once:\n{errors_of(outcome)}")
        outcome = run_schemathesis(command, tmp_path)
    assert "Operations:" in outcome.stdout, outcome.stdout[-12000:]  # it really ran
    assert outcome.returncode == 0, (
        f"seed {seed}:\n{errors_of(outcome)}\n--- summary ---\n{outcome.stdout[-6000:]}"
        f"{outcome.stderr[-3000:]}\n--- server log ---\n{server.log_tail()}"
    )


def run_schemathesis(command: list[str], directory: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=900, cwd=directory, env=os.environ
    )


def errors_section(stdout: str) -> str:
    """schemathesis' ERRORS section and what follows it (where tracebacks are), if any."""
    start = stdout.find(" ERRORS ")
    return stdout[start:] if start >= 0 else ""


def errors_of(outcome: subprocess.CompletedProcess) -> str:
    """The start of the ERRORS section, for a failure message."""
    return errors_section(outcome.stdout)[:8000]


def crashed_in_its_own_generation(stdout: str) -> bool:
    """No failure found, and every error is schemathesis' own case generation crashing."""
    errors = errors_section(stdout)
    return (
        " FAILURES " not in stdout
        and "Traceback" in errors
        and "schemathesis/generation/" in errors
        and not any(word in errors for word in ("ConnectionError", "Timeout", "Network"))
    )
