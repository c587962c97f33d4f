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
    outcome = subprocess.run(
        command, capture_output=True, text=True, timeout=900, cwd=tmp_path, env=os.environ
    )
    report = outcome.stdout[-12000:] + outcome.stderr[-3000:]
    assert "Operations:" in outcome.stdout, report  # it really ran against the schema
    assert outcome.returncode == 0, (
        f"seed {seed}:\n{report}\n--- server log ---\n{server.log_tail()}"
    )
