"""Every command README.md shows runs as written from a fresh checkout.

A "fresh checkout" here is a temporary folder that links to this one's code,
``.venv`` and example data, with its own empty ``var/`` (database, media, secret
key) and an environment without ``SECRET_KEY``, ``DEBUG`` or ``DATABASE_URL``,
as a new user's shell has. The scoring model is the tiny test CLIP
(``CLIP_MODEL_NAME``), because the hub is not reachable from tests.

Not run here, and why: ``make run`` / ``make test`` (they are what wraps these
commands; ``serve --prepare-only`` below is ``make run`` without the servers), the
``curl`` upload (it needs a running server; ``/upload`` is tested through the API in
``tests/api/test_seed_upload.py``) and ``build_demo_model`` (four minutes; tested in
``tests/training/test_demo_build.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
NOT_RUN = ("make run", "make test", "curl ")
# Operator-table commands the tour leaves out, each with where it is covered instead.
NOT_IN_TOUR = {
    "build_demo_model": "tests/training/test_demo_build.py",
    "improve_model": "tests/training/test_improve_model_command.py",
}

# The tour clears DATABASE_URL (a new user has none), so it is the same run on both passes.
pytestmark = [pytest.mark.slow, pytest.mark.backend_agnostic]


def readme_shell_commands(text: str) -> list[str]:
    """The commands of every ```sh block, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def operator_table_commands(text: str) -> set[str]:
    """The command names in the first column of the README's ``manage.py`` table."""
    section = text.split("**Operators** use `manage.py`:", 1)[1].split("\n\n", 2)[1]
    return {
        name
        for row in section.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([a-z_]+)(?=[ `])", row.split("|")[1])
    }


def fresh_checkout(tmp_path: Path) -> Path:
    home = tmp_path / "checkout"
    home.mkdir()
    for name in ("manage.py", ".venv", "training"):
        (home / name).symlink_to(ROOT / name)
    return home


def fresh_environment(home: Path, model_dir: Path) -> dict[str, str]:
    unset = {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "CACHE_URL", "DEPLOYMENT"}
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        VAR_DIR=str(home / "var"),
        CLIP_MODEL_NAME=str(model_dir),
        CLIP_DEVICE="cpu",
        CLIP_DTYPE="float32",
        CLIP_TORCH_THREADS="1",
        HF_HUB_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def run(command: str, home: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_readme_tour_covers_every_operator_command():
    text = README.read_text()
    shown = " ".join(readme_shell_commands(text))
    table = operator_table_commands(text)
    assert {"serve", "seed_demo_catalog", "train_clip", "fit_calibration"} <= table
    missing = {name for name in table if f"manage.py {name}" not in shown}
    assert missing <= set(NOT_IN_TOUR) | {"fit_calibration"}, missing


def test_every_readme_command_runs_as_written_in_a_fresh_checkout(tmp_path, tiny_clip_dir):
    home = fresh_checkout(tmp_path)
    env = fresh_environment(home, tiny_clip_dir)
    commands = [
        command
        for command in readme_shell_commands(README.read_text())
        if not command.startswith(NOT_RUN)
    ]
    assert len(commands) >= 10

    for command in commands:
        outcome = run(command, home, env)
        output = outcome.stdout + outcome.stderr
        assert outcome.returncode == 0, f"{command}\n{output}"
        assert "Traceback" not in output, f"{command}\n{output}"
        # One summary line, not a line per image (issue 13, item 7).
        assert "Enqueued" not in output, f"{command}\n{output}"

    secret = (home / "var" / "secret_key").read_text().strip()
    assert len(secret) >= 50
    assert (home / "var" / "secret_key").stat().st_mode & 0o077 == 0
    assert (home / "var" / "results.csv").is_file()
    assert (home / "var" / "models" / "tour" / "best_model" / "config.json").is_file()

    # Without verdicts, fit_calibration says what it needs: a message, not a traceback.
    outcome = run(".venv/bin/python manage.py fit_calibration", home, env)
    assert outcome.returncode == 1
    assert "Not enough verdicts" in outcome.stderr
    assert "Traceback" not in outcome.stderr


def test_production_never_reads_the_generated_secret(tmp_path, tiny_clip_dir):
    home = fresh_checkout(tmp_path)
    env = fresh_environment(home, tiny_clip_dir)
    assert run(".venv/bin/python manage.py check", home, env).returncode == 0
    assert (home / "var" / "secret_key").is_file()

    outcome = run(".venv/bin/python manage.py check", home, {**env, "DEPLOYMENT": "production"})
    assert outcome.returncode != 0
    assert "SECRET_KEY is required when DEPLOYMENT=production" in outcome.stderr

    explicit = {**env, "DEPLOYMENT": "production", "SECRET_KEY": "x" * 50}
    outcome = run(
        ".venv/bin/python manage.py shell -c "
        "'from django.conf import settings; print(settings.SECRET_KEY)'",
        home,
        explicit,
    )
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.stdout.strip().splitlines()[-1] == "x" * 50
