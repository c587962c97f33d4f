"""The secret key of a local checkout: generated once into ``var/secret_key``.

``manage.py`` calls ``use_local_secret_key`` before Django starts, so every
command the README shows works from a fresh clone without exporting anything.
A production deployment says so with ``DEPLOYMENT=production`` and must then
set ``SECRET_KEY`` itself (every web and worker machine shares one); it never
reads or writes ``var/``. ``gunicorn`` (``config.wsgi``) never calls this either.
No Django import here: it runs before settings exist.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import MutableMapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PRODUCTION = "production"
DEPLOYMENTS = ("local", PRODUCTION)


def deployment(environ: MutableMapping[str, str] = os.environ) -> str:
    """``local`` (the default: a checkout on a laptop or CI) or ``production``."""
    value = environ.get("DEPLOYMENT", "local").strip().lower() or "local"
    if value not in DEPLOYMENTS:
        raise ValueError(f"DEPLOYMENT={value!r}: use one of {', '.join(DEPLOYMENTS)}.")
    return value


def secret_key_path(environ: MutableMapping[str, str] = os.environ) -> Path:
    return Path(environ.get("VAR_DIR") or BASE_DIR / "var") / "secret_key"


def read_or_create_secret_key(path: Path) -> str:
    """The key in ``path``; a new random one (owner-only file) when there is none."""
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        # O_EXCL: two commands started at once agree on the first one's key.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip() or key
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key


def use_local_secret_key(environ: MutableMapping[str, str] = os.environ) -> None:
    """Put the checkout's generated key into ``SECRET_KEY`` when none is set (never in
    production). Child processes (``serve`` starts the web and the worker) inherit it."""
    if environ.get("SECRET_KEY") or deployment(environ) == PRODUCTION:
        return
    environ["SECRET_KEY"] = read_or_create_secret_key(secret_key_path(environ))
