"""The model registry: which CLIP scores the catalog, and switching to another.

ORM-aware layer, the one writer of ``ModelVersion``. A version is identified
by its location plus a fingerprint of the weights, so rebuilding a directory in
place yields a new version rather than silently changing old scores' meaning.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from clipanalysis.clip_service import clear_clip_services
from clipanalysis.model_metadata import read_model_metadata
from clipanalysis.models import ModelVersion

logger = logging.getLogger(__name__)

FINGERPRINT_BYTES = 4 * 1024 * 1024


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
) -> ModelVersion:
    """Record a model (idempotent). Its threshold: argument, then the directory's metadata
    (``catalog_clip.json``), then ``CLIP_SIMILARITY_THRESHOLD``."""
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


def activate(model_version: ModelVersion) -> ModelVersion:
    """Make ``model_version`` the scoring model (one transaction; one active row at most).

    Loaded services are forgotten when it commits, so the next score loads it.
    Re-scoring the catalog with it is ``pipeline.rescore_catalog``, which every
    caller (command, admin action, API) runs next.
    """
    with transaction.atomic():
        ModelVersion.objects.filter(is_active=True).exclude(pk=model_version.pk).update(
            is_active=False
        )
        ModelVersion.objects.filter(pk=model_version.pk).update(
            is_active=True, activated_at=timezone.now()
        )
        transaction.on_commit(clear_clip_services)
    model_version.refresh_from_db()
    logger.info("Activated %s", model_version)
    return model_version
