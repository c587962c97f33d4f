"""The ``--model`` / ``--threshold`` options the scoring commands share.

Not a command (Django skips modules whose name starts with an underscore).
"""

from __future__ import annotations

from dataclasses import replace

from django.core.management.base import CommandError

from clipanalysis.clip_service import ClipService, ModelLoadError, get_clip_service
from clipanalysis.model_metadata import read_model_metadata


def add_model_arguments(parser) -> None:
    parser.add_argument(
        "--model",
        default=None,
        help="Model directory or hub name. Default: the active scoring model.",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="Decision threshold on similarity_score. Default: the model's own "
        "(registry or catalog_clip.json), else CLIP_SIMILARITY_THRESHOLD.",
    )


def scoring_service(model: str | None, threshold: float | None) -> ClipService:
    """The service for ``--model`` (default: the active model) at the right threshold.

    An explicit ``--threshold`` goes on a copy, so the process-wide service keeps
    the model's own threshold.
    """
    own = read_model_metadata(model).get("threshold") if model is not None else None
    try:
        service = get_clip_service(model, threshold=own)  # hub names have no metadata
    except ModelLoadError as error:
        raise CommandError(str(error)) from error
    return service if threshold is None else replace(service, threshold=threshold)
