"""The model registry: which CLIP scores the catalog, and switching to another.

ORM-aware layer, the one writer of ``ModelVersion`` and ``ModelActivation``. A
version is identified by its location plus a fingerprint of the weights, so
rebuilding a directory in place yields a new version rather than silently
changing old scores' meaning.

Safe by construction: a model is loaded, and scores one image, before it is
registered by an operator (``register_model(..., verify=True)``) and before it is
activated (``activate``), so a typo or a broken directory is refused with the
reason instead of making every later upload fail. Every activation is recorded
(who, when, what it replaced, the threshold it went live with, the guard's
comparison), and ``rollback`` goes back to the model it replaced.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image

from clipanalysis.clip_service import ClipService, ModelLoadError, clear_clip_services
from clipanalysis.model_metadata import read_model_metadata
from clipanalysis.models import ModelActivation, ModelVersion

logger = logging.getLogger(__name__)

FINGERPRINT_BYTES = 4 * 1024 * 1024
# What the load check scores: any image and text do; a model that cannot score them cannot serve.
PROBE_TEXT = "a product photo"


class ModelNotLoadable(ValueError):
    """The model cannot serve: no such directory or cached hub model, broken files, or it
    loads but cannot score. The message says which, in words fit for an operator."""


def looks_like_a_path(name_or_path: str) -> bool:
    """``/tmp/nope``, ``./model``, ``~/m``, ``C:\\m``: meant as a directory, never a hub name."""
    text = str(name_or_path)
    return text.startswith(("/", ".", "~")) or "\\" in text or Path(text).exists()


def check_loadable(name_or_path: str | Path, *, allow_download: bool | None = None) -> None:
    """Load the model and score one image with it; raise ``ModelNotLoadable`` otherwise.

    A local directory must hold a CLIP (config and safetensors weights); a hub
    name must be in the local model cache, or downloadable when the hub may be
    used (``HF_HUB_OFFLINE`` unset; ``allow_download`` overrides
    ``CLIP_HUB_DOWNLOADS``). Loads on the CPU in float32: the check is about the
    files, not the serving device.
    """
    downloads = settings.CLIP_HUB_DOWNLOADS if allow_download is None else allow_download
    name = str(name_or_path)
    if looks_like_a_path(name) and not Path(name).expanduser().is_dir():
        raise ModelNotLoadable(
            f"{name} is not a model directory (it does not exist) and not a hub model name."
        )
    try:
        service = ClipService.load(name, device="cpu", dtype="float32", local_files_only=True)
    except ModelLoadError as cached_error:
        if Path(name).is_dir() or not downloads:
            raise ModelNotLoadable(_not_loadable(name, cached_error, downloads)) from cached_error
        try:
            service = ClipService.load(name, device="cpu", dtype="float32")
        except ModelLoadError as error:
            raise ModelNotLoadable(_not_loadable(name, error, downloads)) from error
    try:
        score = service.compute_similarity(Image.new("RGB", (64, 64), (128, 96, 64)), PROBE_TEXT)
    except Exception as error:  # any failure to score means it cannot serve
        raise ModelNotLoadable(f"{name} loads but cannot score an image: {error}") from error
    if not 0.0 <= score <= 1.0:
        raise ModelNotLoadable(f"{name} loads but scores nonsense ({score!r}).")


def _not_loadable(name: str, error: Exception, downloads: bool) -> str:
    if Path(name).is_dir():
        return f"{name} is not loadable: {error}"
    return (
        f"{name!r} is neither a model directory nor a hub model in the local cache "
        f"(downloads {'allowed' if downloads else 'off'}): {error}"
    )


def model_fingerprint(name_or_path: str) -> str:
    """Weights fingerprint of a local directory (size + first 4 MiB); the name for hub models."""
    directory = Path(name_or_path)
    digest = hashlib.sha256()
    weights = sorted(directory.glob("*.safetensors")) if directory.is_dir() else []
    if not weights:
        digest.update(name_or_path.encode())
    for path in weights:
        digest.update(path.name.encode())
        digest.update(str(path.stat().st_size).encode())
        with path.open("rb") as handle:
            digest.update(handle.read(FINGERPRINT_BYTES))
    return digest.hexdigest()


def version_name(name_or_path: str) -> str:
    directory = Path(name_or_path)
    label = directory.name if directory.is_dir() else name_or_path
    return f"{slugify(label)[:80] or 'model'}-{model_fingerprint(name_or_path)[:10]}"


def register_model(
    name_or_path: str | Path,
    *,
    source: str = ModelVersion.Source.CONFIGURED,
    base_model: str = "",
    metrics: dict[str, Any] | None = None,
    training_summary: dict[str, Any] | None = None,
    threshold: float | None = None,
    verify: bool = False,
) -> ModelVersion:
    """Record a model (idempotent). Its threshold: argument, then the directory's metadata
    (``catalog_clip.json``), then ``CLIP_SIMILARITY_THRESHOLD``; its calibration: the one
    the directory ships (``calibration`` in ``catalog_clip.json``), until verdicts refit it.

    ``verify=True`` (operators' paths) loads the model and scores one image first, and
    raises ``ModelNotLoadable`` instead of recording a model that cannot serve.
    """
    if verify:
        check_loadable(name_or_path)
    location = (
        str(Path(name_or_path).resolve()) if Path(name_or_path).is_dir() else str(name_or_path)
    )
    metadata = read_model_metadata(location) if Path(location).is_dir() else {}
    if threshold is None:
        threshold = metadata.get("threshold", settings.CLIP_SIMILARITY_THRESHOLD)
    defaults = {
        "name_or_path": location,
        "source": source,
        "base_model": base_model or metadata.get("base_model", ""),
        "metrics": metrics if metrics is not None else metadata.get("metrics", {}),
        "training_summary": training_summary
        if training_summary is not None
        else metadata.get("training_summary", {}),
        "threshold": float(threshold),
        "calibration": shipped_calibration(metadata),
    }
    version = version_name(location)
    try:
        with transaction.atomic():
            model_version, _ = ModelVersion.objects.get_or_create(
                version=version, defaults=defaults
            )
    except IntegrityError:  # registered concurrently by another process
        model_version = ModelVersion.objects.get(version=version)
    return model_version


def active_model() -> ModelVersion:
    """The scoring model; registers and activates ``CLIP_MODEL_NAME`` when none is active."""
    model_version = ModelVersion.objects.active().first()
    if model_version is not None:
        return model_version
    configured = register_model(settings.CLIP_MODEL_NAME)
    try:
        with transaction.atomic():
            updated = ModelVersion.objects.filter(pk=configured.pk).update(
                is_active=True, activated_at=timezone.now()
            )
    except IntegrityError:  # another process activated one first
        updated = 0
    if not updated:
        return ModelVersion.objects.active().get()
    configured.refresh_from_db()
    return configured


def active_model_location() -> tuple[str, float]:
    """``(name_or_path, threshold)`` of the scoring model."""
    model_version = active_model()
    return model_version.name_or_path, model_version.threshold


def source_of(name_or_path: str | Path) -> str:
    """The registry source a directory's metadata claims: demo, trained, else configured."""
    kind = (
        read_model_metadata(name_or_path).get("model_kind", "")
        if Path(name_or_path).is_dir()
        else ""
    )
    if kind == "demo":
        return ModelVersion.Source.DEMO
    if kind in {"trained", "fine-tuned", "finetuned"}:
        return ModelVersion.Source.TRAINED
    return ModelVersion.Source.CONFIGURED


def shipped_calibration(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """The calibration a model directory ships (e.g. the demo model's, fitted on its held-out
    synthetic pairs), marked as such so a later fit on verdicts is told apart."""
    calibration = metadata.get("calibration")
    if not isinstance(calibration, dict) or not {"coef", "intercept"} <= calibration.keys():
        return None
    return {**calibration, "shipped": True}


def store_calibration(model_version: ModelVersion, calibration: dict[str, Any] | None) -> None:
    """Record the version's fitted score → P(match) calibration (``training.calibration``)."""
    model_version.calibration = calibration
    model_version.save(update_fields=["calibration"])


def resolve_model_version(version_or_path: str) -> ModelVersion:
    """A registered version by slug, else a local model directory registered on the spot.

    Raises ``ModelVersion.DoesNotExist`` when it is neither.
    """
    model_version = ModelVersion.objects.filter(version=version_or_path).first()
    if model_version is not None:
        return model_version
    if Path(version_or_path).is_dir():
        return register_model(version_or_path, source=source_of(version_or_path))
    raise ModelVersion.DoesNotExist(
        f"No model version {version_or_path!r} and no model directory at that path."
    )


def activate(
    model_version: ModelVersion,
    *,
    by=None,
    kind: str = ModelActivation.Kind.UNGUARDED,
    metrics: dict[str, Any] | None = None,
    note: str = "",
    threshold: float | None = None,
    check: bool = True,
    configured_model: str = "",
) -> ModelVersion:
    """Make ``model_version`` the scoring model (one transaction; one active row at most).

    1. unless ``check=False`` (the caller has just loaded it), load it and score one
       image: ``ModelNotLoadable`` leaves the active model as it was;
    2. switch the flag, set ``threshold`` if given (a rollback's), and record a
       ``ModelActivation`` (``by``: the user; ``kind``; ``metrics``: the guard's table);
    3. loaded services are forgotten when it commits, so the next score loads it.

    Re-scoring the catalog with it is ``pipeline.rescore_catalog``, which every
    caller (command, admin action, API) runs next.
    """
    if check:
        check_loadable(model_version.name_or_path)
    with transaction.atomic():
        previous = (
            ModelVersion.objects.select_for_update()
            .filter(is_active=True)
            .exclude(pk=model_version.pk)
            .first()
        )
        ModelVersion.objects.filter(is_active=True).exclude(pk=model_version.pk).update(
            is_active=False
        )
        changes: dict[str, Any] = {"is_active": True, "activated_at": timezone.now()}
        if threshold is not None:
            changes["threshold"] = float(threshold)
        ModelVersion.objects.filter(pk=model_version.pk).update(**changes)
        model_version.refresh_from_db()
        ModelActivation.objects.create(
            model_version=model_version,
            previous=previous,
            kind=kind,
            activated_by=by if getattr(by, "pk", None) else None,
            threshold=model_version.threshold,
            metrics=metrics or {},
            note=note,
            configured_model=configured_model,
        )
        transaction.on_commit(clear_clip_services)
    logger.info("Activated %s (%s)", model_version, kind)
    return model_version


def rollback_target() -> tuple[ModelVersion, float]:
    """The model the active one replaced, and the threshold it served with then.

    Raises ``ModelVersion.DoesNotExist`` when there is nothing to go back to.
    """
    active = ModelVersion.objects.active().first()
    last = (
        ModelActivation.objects.filter(model_version=active, previous__isnull=False)
        .select_related("previous")
        .first()
        if active is not None
        else None
    )
    if last is None:
        raise ModelVersion.DoesNotExist(
            "Nothing to roll back to: the active model did not replace another one."
        )
    served = ModelActivation.objects.filter(
        model_version=last.previous, activated_at__lte=last.activated_at
    ).first()
    return last.previous, served.threshold if served else last.previous.threshold


def rollback(*, by=None, note: str = "") -> ModelVersion:
    """Re-activate the model the active one replaced, with the threshold it had then.

    Rolling back twice swaps back: the rollback is itself an activation whose
    ``previous`` is the model it left.
    """
    target, threshold = rollback_target()
    return activate(
        target, by=by, kind=ModelActivation.Kind.ROLLBACK, note=note, threshold=threshold
    )


# --- the comparison guard, installed by the training app ----------------------------------------
@dataclass
class GuardedActivation:
    """What a guarded activation did: activated or refused, why, the table, images queued."""

    activated: bool
    message: str
    table: str = ""
    queued: int = 0


ActivationGuard = Callable[..., GuardedActivation]
_activation_guard: ActivationGuard | None = None


def guard_activations_with(guard: ActivationGuard | None) -> None:
    """Install the comparison guard (``training`` does at start-up; the scorer cannot import it).

    The guard is called as ``guard(model_version, by=user, force=bool, progress=bool)``: it
    compares the candidate with the active model, activates (and re-scores) only if it may,
    and says so.
    """
    global _activation_guard
    _activation_guard = guard


def activate_guarded(
    model_version: ModelVersion, *, by=None, force: bool = False, progress: bool = False
):
    """Activate through the installed guard, as ``manage.py activate_model`` does.

    Raises ``ModelNotLoadable`` (nothing changes) and ``RuntimeError`` when no guard is
    installed: an unguarded switch from a web page is what the guard exists to prevent.
    """
    if _activation_guard is None:
        raise RuntimeError("No activation guard is installed (the training app is not loaded).")
    return _activation_guard(model_version, by=by, force=force, progress=progress)
