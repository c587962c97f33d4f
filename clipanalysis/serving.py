"""Choose the scoring model at start-up: the configured CLIP, else the offline demo model.

Used by ``manage.py serve``. Where ``CLIP_MODEL_NAME`` cannot be loaded (no
hub access, unknown name), the demo model the project trains itself serves
instead, is built once and cached under ``DEMO_MODEL_DIR``, and is registered
as source "demo" so the admin banner and every score say which model made it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings

from clipanalysis.clip_service import ClipService, ModelLoadError
from clipanalysis.models import ModelVersion
from clipanalysis.pipeline import rescore_catalog
from clipanalysis.registry import activate, register_model

HUB_PROBE_TIMEOUT = 3.0


@dataclass
class ModelChoice:
    model_version: ModelVersion
    message: str


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


def try_load(name_or_path: str) -> str | None:
    """None when the model loads, else the reason it does not."""
    is_local = Path(name_or_path).is_dir()
    try:
        ClipService.load(name_or_path, device="cpu", dtype="float32", local_files_only=True)
        return None
    except ModelLoadError as error:
        if is_local or not hub_reachable():
            return str(error) if is_local else "the model hub is unreachable and it is not cached"
    try:
        ClipService.load(name_or_path, device="cpu", dtype="float32")
        return None
    except ModelLoadError as error:
        return str(error)


def prepare_scoring_model(build_demo: Callable[[Path], None]) -> ModelChoice:
    """Make sure a loadable model is active; build the demo model if it must serve."""
    active = ModelVersion.objects.active().first()
    if active is not None and try_load(active.name_or_path) is None:
        return ModelChoice(active, f"Scoring model: {active.version} ({active.name_or_path})")

    configured = settings.CLIP_MODEL_NAME
    problem = try_load(configured)
    if problem is None:
        model_version = register_model(configured)
        if not model_version.is_active:
            rescore_catalog(activate(model_version))
        return ModelChoice(model_version, f"Scoring model: {configured}")

    if not settings.CLIP_OFFLINE_FALLBACK:
        raise ModelLoadError(f"Cannot load {configured}: {problem}")
    demo_dir = Path(settings.DEMO_MODEL_DIR)
    if not (demo_dir / "config.json").is_file():
        build_demo(demo_dir)
    model_version = register_model(demo_dir, source=ModelVersion.Source.DEMO, base_model="scratch")
    if not model_version.is_active:
        rescore_catalog(activate(model_version))
    return ModelChoice(
        model_version,
        f"Could not load {configured} ({problem}).\n"
        f"Using the OFFLINE DEMO MODEL {model_version.version} from {demo_dir}: trained by this "
        "project on synthetic products; scores are indicative only.",
    )
