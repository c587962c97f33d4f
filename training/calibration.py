"""Calibrate a model's similarity scores into P(match) from reviewer verdicts.

A similarity of 0.27 means different things for different models; reviewers'
verdicts say what it means for this one. Once a model version has scored
at least ``CALIBRATION_MIN_VERDICTS`` image–text pairs that reviewers
labelled (match or mismatch), a logistic regression of the verdict on
``similarity_score`` is fitted and stored in ``ModelVersion.calibration``;
``clipanalysis.pipeline`` then writes ``match_probability`` on every new
result of that version.

The fit is stored through ``clipanalysis.registry`` (the writer of
``ModelVersion``), and ``clipanalysis.pipeline.refresh_match_probabilities``
rewrites ``match_probability`` on the version's existing results with the
formula new results get.

Runs daily through the django-q2 schedule ``fit_calibrations`` (added by a
migration), hourly for the active model once ``CALIBRATION_MIN_VERDICTS`` new
verdicts arrived since its last fit (``refit_after_new_verdicts``), on demand with
``manage.py fit_calibration``, and on every guarded activation
(``training.activation_guard``, from the held-out scores it just measured). Until a
model has enough verdicts it keeps the calibration its
directory ships (``calibration`` in ``catalog_clip.json``: the demo model's is
fitted on its held-out synthetic set, a fine-tuned model's on its validation
rows), so ``match_probability`` is always there.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from catalog.models import description_hash
from clipanalysis import pipeline, registry, review
from clipanalysis.models import AnalysisResult, ModelVersion, Verdict
from training.export import heldout_products, labelled_pairs
from training.reliability import calibration_from_scores

logger = logging.getLogger(__name__)


def verdict_labels(heldout_only: bool = False) -> dict[tuple[int, str, str], int]:
    """What reviewers said about (image, image content, text hash): 1 match, 0 mismatch.

    A verdict is about a picture and a text, not about the model that scored
    them, so it labels that pair for every model version. The rules of which
    verdicts count are the export's (``training.export.labelled_pairs``).
    """
    pairs = labelled_pairs()
    kept = heldout_products(pair.product_id for pair in pairs) if heldout_only else None
    return {
        (pair.image_id, pair.image_hash, description_hash(pair.text)): int(pair.is_match)
        for pair in pairs
        if kept is None or pair.product_id in kept
    }


def calibration_data(model_version: ModelVersion) -> tuple[np.ndarray, np.ndarray]:
    """``(similarity_scores, labels)``: this version's scores of the pairs reviewers labelled.

    After an activation re-scores the catalog, the new version's results of
    already-reviewed pairs count at once; no new verdicts are needed.
    """
    labels = verdict_labels(heldout_only=model_version.source == ModelVersion.Source.TRAINED)
    rows = AnalysisResult.objects.filter(
        model_version=model_version,
        similarity_score__isnull=False,
        image_id__in=Verdict.objects.standing().values("result__image_id"),
    ).values_list("image_id", "image_hash", "description_hash", "similarity_score")
    pairs = [
        (score, labels[(image_id, image_hash, text_hash)])
        for image_id, image_hash, text_hash, score in rows
        if (image_id, image_hash, text_hash) in labels
    ]
    scores = np.array([score for score, _ in pairs], dtype=np.float64)
    return scores, np.array([label for _, label in pairs], dtype=np.int64)


def fit_calibration(
    model_version: ModelVersion, min_verdicts: int | None = None
) -> dict[str, Any] | None:
    """Fit and store the model's calibration; None (nothing stored) with too few verdicts.

    Too few means fewer than ``min_verdicts`` (default ``CALIBRATION_MIN_VERDICTS``)
    labelled verdicts, or verdicts of one kind only; the model keeps the
    calibration it has (the one its directory shipped, if any). A fine-tuned
    model is calibrated on held-out products only: on the pairs it trained on
    its scores are overconfident. A stored calibration is replaced by the new
    fit and applied to the version's existing results.
    """
    scores, labels = calibration_data(model_version)
    return store_fitted_calibration(
        model_version, scores, labels, "verdicts on its results", min_verdicts
    )


def store_fitted_calibration(
    model_version: ModelVersion,
    scores: np.ndarray,
    labels: np.ndarray,
    source: str,
    min_verdicts: int | None = None,
) -> dict[str, Any] | None:
    """Fit P(match) on ``(similarity_score, label)`` pairs; store it (see ``fit_calibration``)."""
    if min_verdicts is None:
        min_verdicts = settings.CALIBRATION_MIN_VERDICTS
    n_match = int(labels.sum())
    n_mismatch = len(labels) - n_match
    if len(labels) < max(min_verdicts, 2) or not n_match or not n_mismatch:
        logger.info(
            "Not calibrating %s: %d verdicts (%d match, %d mismatch), need %d of both kinds",
            model_version,
            len(labels),
            n_match,
            n_mismatch,
            min_verdicts,
        )
        return None
    calibration = calibration_from_scores(
        scores,
        labels,
        f"logistic regression of reviewer verdicts on similarity_score ({source})",
        fitted_at=timezone.now().isoformat(),
    )
    registry.store_calibration(model_version, calibration)
    updated = pipeline.refresh_match_probabilities(model_version)
    review.refresh_priorities(model_version)  # the queue order reads P(match)
    logger.info(
        "Calibrated %s on %d verdicts; %d results updated", model_version, len(labels), updated
    )
    return calibration


def fit_calibrations(min_verdicts: int | None = None) -> dict[str, dict[str, Any] | None]:
    """Refit every model version that scored a reviewed image (the daily schedule)."""
    with_verdicts = ModelVersion.objects.filter(
        pk__in=AnalysisResult.objects.filter(
            image_id__in=Verdict.objects.standing().values("result__image_id")
        ).values("model_version")
    ).order_by("pk")
    return {
        model_version.version: fit_calibration(model_version, min_verdicts)
        for model_version in with_verdicts
    }


def new_verdicts_since_fit(model_version: ModelVersion) -> int:
    """Verdicts recorded since the version's calibration was fitted (all, if shipped or none)."""
    calibration = model_version.calibration or {}
    fitted_at = None if calibration.get("shipped") else calibration.get("fitted_at")
    verdicts = Verdict.objects.latest_per_item().labelling()
    if fitted_at:
        verdicts = verdicts.filter(created_at__gt=fitted_at)
    return verdicts.count()


def refit_after_new_verdicts() -> dict[str, Any] | None:
    """The hourly schedule: refit the active model once ``CALIBRATION_MIN_VERDICTS`` new
    verdicts arrived since its calibration was fitted (or since it shipped)."""
    active = registry.active_model()
    if new_verdicts_since_fit(active) < settings.CALIBRATION_MIN_VERDICTS:
        return None
    return fit_calibration(active)
