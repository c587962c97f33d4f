"""Choose the scoring model at start-up: the configured CLIP, else the offline demo model.

Used by ``manage.py serve``, and by every other way the service starts (the WSGI and
ASGI application, each django-q2 worker) through ``apply_configured_model``. A changed
``CLIP_MODEL_NAME`` (or ``serve --model``) is registered and activated after the load
check; an unchanged one leaves later activations standing (``prepare_scoring_model``
says how the two relate).
Where ``CLIP_MODEL_NAME`` cannot be loaded (no hub access, unknown name), the
demo model the project trains itself serves instead, is built once and cached
under ``DEMO_MODEL_DIR``, and is registered as source "demo" so the admin
banner and every score say which model made it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.db import connection, connections

from clipanalysis.clip_service import ModelLoadError
from clipanalysis.models import ModelActivation, ModelVersion
from clipanalysis.pipeline import rescore_catalog
from clipanalysis.registry import (
    ModelNotLoadable,
    activate,
    check_loadable,
    looks_like_a_path,
    register_model,
)

HUB_PROBE_TIMEOUT = 3.0
START_UP_LOCK_KEY = 7_313_001  # pg_advisory_lock key: one start-up decides at a time

logger = logging.getLogger(__name__)


@dataclass
class ModelChoice:
    model_version: ModelVersion
    message: str
    refused: bool = False  # a configured model was refused: the message says why


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT) -> bool:
    """One quick TCP connect, so an offline machine does not wait out the hub's retries."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def load_problem(name_or_path: str) -> str | None:
    """None when the model loads and scores one image (``registry.check_loadable``, the
    guarded path), else the reason it does not. The local cache is tried first; the hub
    only when it answers, so an offline machine does not wait out its retries."""
    try:
        check_loadable(name_or_path, allow_download=False)
        return None
    except ModelNotLoadable as cached_problem:
        if looks_like_a_path(name_or_path) or not settings.CLIP_HUB_DOWNLOADS:
            return str(cached_problem)
        if not hub_reachable():
            return "the model hub is unreachable and it is not cached"
    try:
        check_loadable(name_or_path, allow_download=True)
        return None
    except ModelNotLoadable as error:
        return str(error)


def location_of(name_or_path: str) -> str:
    """How the registry writes a model's name: directories resolved, hub names as given."""
    return str(Path(name_or_path).resolve()) if Path(name_or_path).is_dir() else name_or_path


def last_configured_model() -> str | None:
    """The CLIP_MODEL_NAME the last start-up acted on (None before the first)."""
    return (
        ModelActivation.objects.exclude(configured_model="")
        .values_list("configured_model", flat=True)
        .first()
    )


def prepare_scoring_model(
    build_demo: Callable[[Path, str], None],
    configured: str | None = None,
    *,
    progress: bool = True,
) -> ModelChoice:
    """Make sure a loadable model is active; build the demo model if it must serve.

    How configuration and activation relate (the operator's view):

    1. ``configured`` (``serve --model``, else ``CLIP_MODEL_NAME``) that differs from
       the one the last start acted on is a change of mind: it is load-checked (loaded,
       one image scored), registered, activated and the catalog re-scored;
    2. the same configuration as last time leaves the active model alone, so a model
       activated since (``activate_model``, the admin, the API) stands;
    3. a changed configuration that does not load is refused loudly and the active
       model keeps scoring (the next start tries again; on a database without start-up
       history yet, the refusal is the baseline and is said once);
    4. with no loadable model at all, the offline demo model serves.

    Each model is loaded once here (the check), not again to activate it. ``progress``
    shows the re-scoring's tqdm bar (``serve``; not in web or worker processes).
    """
    configured = str(configured or settings.CLIP_MODEL_NAME)
    last = last_configured_model()
    changed = last != configured
    active = ModelVersion.objects.active().first()
    active_problem = None
    if active is not None and (not changed or active.name_or_path == location_of(configured)):
        active_problem = load_problem(active.name_or_path)
        if active_problem is None:
            if changed:  # configured and already active: remember it, nothing to switch
                record_start_up(
                    active, configured, f"CLIP_MODEL_NAME={configured} (already active)"
                )
            return ModelChoice(active, f"Scoring model: {active.version} ({active.name_or_path})")

    problem = load_problem(configured)
    if problem is None:
        model_version = register_model(configured)
        switched = not model_version.is_active
        record_start_up(model_version, configured, f"CLIP_MODEL_NAME={configured}")
        queued = rescore_catalog(model_version, progress=progress) if switched else 0
        if active is not None and switched and active_problem:
            message = (
                f"The active model {active.version} does not load ({active_problem}); "
                f"activated CLIP_MODEL_NAME={configured} as {model_version.version}; {queued} "
                "images queued for re-scoring."
            )
        elif active is not None and switched:
            message = (
                f"CLIP_MODEL_NAME changed to {configured}: registered and activated it as "
                f"{model_version.version} in place of {active.version}; {queued} images "
                "queued for re-scoring."
            )
        else:
            message = f"Scoring model: {model_version.version} ({configured})"
        return ModelChoice(model_version, message)

    if active is not None and active_problem is None:
        active_problem = load_problem(active.name_or_path)
    if active is not None and active_problem is None:
        if active.source == ModelVersion.Source.DEMO:
            # The demo model is what serves when the configured model cannot: as designed.
            record_start_up(
                active, configured, f"CLIP_MODEL_NAME={configured} not loadable: {problem}"
            )
            return demo_choice(active, configured, problem, Path(active.name_or_path))
        if last is None:
            # The first start that keeps a history (an older database): this is the
            # baseline, said once; later starts judge changes against it.
            record_start_up(active, configured, f"CLIP_MODEL_NAME={configured} refused: {problem}")
        return ModelChoice(
            active,
            f"REFUSED CLIP_MODEL_NAME={configured}: {problem}.\n"
            f"Still scoring with {active.version} ({active.name_or_path}). Fix the name or "
            "path and restart, or unset it to keep this model.",
            refused=True,
        )

    if not settings.CLIP_OFFLINE_FALLBACK:
        raise ModelLoadError(f"Cannot load {configured}: {problem}")
    demo_dir = Path(settings.DEMO_MODEL_DIR)
    if not (demo_dir / "config.json").is_file():
        build_demo(demo_dir, f"Could not load {configured} ({problem}).")
    model_version = register_model(demo_dir, source=ModelVersion.Source.DEMO, base_model="scratch")
    switched = not model_version.is_active
    activate(
        model_version,
        kind=ModelActivation.Kind.START_UP,
        check=True,  # first load of the demo model in this start
        configured_model=configured,
        note=f"CLIP_MODEL_NAME={configured} not loadable: {problem}",
    )
    if switched:
        rescore_catalog(model_version, progress=progress)
    return demo_choice(model_version, configured, problem, demo_dir)


def record_start_up(model_version: ModelVersion, configured: str, note: str) -> None:
    """Record start-up's choice (activating it if it is not active yet); the model was
    already load-checked here, so the registry does not load it again."""
    activate(
        model_version,
        kind=ModelActivation.Kind.START_UP,
        check=False,
        configured_model=configured,
        note=note,
    )


def demo_choice(
    model_version: ModelVersion, configured: str, problem: str, demo_dir: Path
) -> ModelChoice:
    return ModelChoice(
        model_version,
        f"Could not load {configured} ({problem}).\n"
        f"Using the OFFLINE DEMO MODEL {model_version.version} from {demo_dir}: trained by this "
        "project on synthetic products; scores are indicative only.",
    )


class DemoModelNotBuilt(ModelLoadError):
    pass


def refuse_to_build_demo(demo_dir: Path, reason: str) -> None:
    """A web or worker process does not spend minutes building the demo model."""
    raise DemoModelNotBuilt(
        f"{reason} The offline demo model is not built in {demo_dir}: run `manage.py serve` "
        "or `manage.py build_demo_model` once."
    )


_applied_in_this_process = False
_applied_lock = threading.Lock()


def apply_configured_model(process: str) -> ModelChoice | None:
    """The start-up model switch for a process that ``manage.py serve`` did not prepare.

    Called once per process by the WSGI/ASGI application (gunicorn, ``runserver``) and
    by each django-q2 worker as it spawns (``qcluster``), never at import or by other
    commands. It never fails start-up: what goes wrong is logged and the active model
    keeps scoring.

    1. once per process (later calls return None at once);
    2. nothing to do, and no model loaded, when ``CLIP_MODEL_NAME`` is what the last
       start acted on and a model is active (two small queries: the usual restart);
    3. otherwise, holding a lock that one start-up at a time takes (a PostgreSQL
       advisory lock, or a file lock next to SQLite), it checks again and runs
       ``prepare_scoring_model`` as ``serve`` does, except that it never builds the
       demo model; a refused configuration is logged as a warning.
    """
    global _applied_in_this_process
    with _applied_lock:
        if _applied_in_this_process:
            return None
        _applied_in_this_process = True
    configured = str(settings.CLIP_MODEL_NAME)
    try:
        if not configuration_pending(configured):
            return None
        with start_up_lock():
            if not configuration_pending(configured):  # another process applied it
                return None
            choice = prepare_scoring_model(refuse_to_build_demo, configured, progress=False)
    except Exception as error:  # start-up goes on with whatever model is active
        logger.warning(
            "%s start-up: CLIP_MODEL_NAME=%s not applied (%s: %s); the active model, if "
            "any, keeps scoring.",
            process,
            configured,
            type(error).__name__,
            error,
        )
        return None
    finally:
        # A web master or worker may fork after this: no connection is shared across it.
        for open_connection in connections.all(initialized_only=True):
            if not open_connection.in_atomic_block:
                open_connection.close()
    if choice.refused:
        logger.warning("%s start-up: %s", process, choice.message)
    else:
        logger.info("%s start-up: %s", process, choice.message)
    return choice


def apply_configured_model_in_worker(sender=None, proc_name: str = "", **kwargs) -> None:
    """django-q2's ``post_spawn`` receiver: each worker applies it before its first task.

    Not in sync mode, where django-q2 sends ``post_spawn`` inside the caller's process
    (a web request, a test) as it runs a task there.
    """
    from django_q.conf import Conf

    if Conf.SYNC:
        return
    apply_configured_model(f"queue worker {proc_name}".strip())


def configuration_pending(configured: str) -> bool:
    """Whether start-up has something to decide: no active model, or a configuration
    other than the one the last start acted on."""
    return last_configured_model() != configured or not ModelVersion.objects.active().exists()


@contextmanager
def start_up_lock() -> Iterator[None]:
    """One process at a time decides (and loads the candidate): web workers and queue
    workers starting together would otherwise each load the model and re-score."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [START_UP_LOCK_KEY])
            try:
                yield
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [START_UP_LOCK_KEY])
        return
    database = Path(str(connection.settings_dict["NAME"]))
    folder = database.parent if database.is_file() else Path(settings.VAR_DIR)  # :memory:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{database.name}.start-up.lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def configuration_note() -> str | None:
    """How ``CLIP_MODEL_NAME`` relates to the active model, when they differ (else None)."""
    configured = str(settings.CLIP_MODEL_NAME)
    active = ModelVersion.objects.active().first()
    if active is None or active.name_or_path == location_of(configured):
        return None
    if last_configured_model() == configured:
        return (
            f"CLIP_MODEL_NAME={configured} was applied at an earlier start; "
            f"{active.version} has been activated since and stays in service."
        )
    return (
        f"CLIP_MODEL_NAME={configured} is not the active model ({active.version}): the next "
        "start (`manage.py serve`, the web application or a queue worker) load-checks and "
        f"activates it (or run `activate_model {configured}`)."
    )
