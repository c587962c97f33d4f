"""Guarded activation: a candidate goes live only when it measures no worse than the active model.

ORM-aware. Steps of ``guarded_activate``:

1. load the candidate (and the active model) and score the held-out verdict set
   with both (``training.export.heldout_pairs``: verdicts on products no
   export ever trains on, plus their hard negatives); a candidate that cannot
   load raises ``ModelNotLoadable`` and nothing changes;
2. compare (``training.comparison.compare_scores``): refused when worse overall,
   when it loses more than ``ACTIVATION_GUARD_MARGIN`` on a slice with
   ``ACTIVATION_GUARD_MIN_SLICE`` pairs, or when the held-out set is too small
   to tell, unless ``force``;
3. activate through the registry, recording who, when and the comparison;
   queue the catalog for re-scoring (``pipeline.rescore_catalog``);
4. calibrate the new model from the held-out verdicts it was just scored on
   (it never trained on them); with too few, it keeps its shipped calibration.

When no other model is active (or the active one no longer loads) there is
nothing to protect, and the candidate is activated after its load check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from clipanalysis import pipeline, registry
from clipanalysis.clip_service import ClipService, ModelLoadError
from clipanalysis.csv_format import read_training_csv
from clipanalysis.model_metadata import read_model_metadata
from clipanalysis.models import ModelActivation, ModelVersion
from training.calibration import store_fitted_calibration
from training.comparison import (
    Comparison,
    compare_scores,
    cosine_scores,
    format_comparison,
    plot_comparison,
)
from training.demo.synthetic_eval import evaluate_on_synthetic
from training.export import LabelledPair, heldout_pairs

logger = logging.getLogger(__name__)


@dataclass
class GuardDecision:
    """What ``guarded_activate`` did, with the table it decided on (None: nothing to compare)."""

    candidate: ModelVersion
    activated: bool
    comparison: Comparison | None
    message: str
    queued: int = 0
    calibration: dict | None = None


@dataclass
class HeldoutScores:
    pairs: list[LabelledPair]
    labels: np.ndarray
    active: np.ndarray
    candidate: np.ndarray


def load_for_comparison(model_version: ModelVersion) -> ClipService:
    """The model on the serving device, in float32 (the comparison must not hinge on dtype)."""
    try:
        return ClipService.load(
            model_version.name_or_path,
            device=settings.CLIP_DEVICE,
            dtype="float32",
            threshold=model_version.threshold,
            batch_size=settings.CLIP_BATCH_SIZE,
            local_files_only=True,
        )
    except ModelLoadError as error:
        raise registry.ModelNotLoadable(
            f"{model_version.version} is not loadable: {error}"
        ) from error


def score_heldout(active: ClipService, candidate: ClipService) -> HeldoutScores:
    pairs = heldout_pairs()
    root = Path(settings.MEDIA_ROOT).resolve()
    paths = [root / pair.image_name for pair in pairs]
    texts = [pair.text for pair in pairs]
    return HeldoutScores(
        pairs=pairs,
        labels=np.array([pair.is_match for pair in pairs], dtype=bool),
        active=cosine_scores(active, paths, texts),
        candidate=cosine_scores(candidate, paths, texts),
    )


def compare_on_heldout(
    active: ModelVersion,
    candidate: ModelVersion,
    *,
    plot_path: str | Path | None = None,
    services: tuple[ClipService, ClipService] | None = None,
) -> tuple[Comparison, HeldoutScores]:
    """Both models on the held-out verdict set, side by side (optionally plotted)."""
    active_service, candidate_service = services or (
        load_for_comparison(active),
        load_for_comparison(candidate),
    )
    scores = score_heldout(active_service, candidate_service)
    comparison = compare_scores(
        scores.labels,
        scores.active,
        scores.candidate,
        [pair.slices for pair in scores.pairs],
        active_model=active.version,
        candidate_model=candidate.version,
        active_threshold=active.threshold,
        candidate_threshold=candidate.threshold,
        margin=settings.ACTIVATION_GUARD_MARGIN,
        min_slice=settings.ACTIVATION_GUARD_MIN_SLICE,
        min_pairs=settings.ACTIVATION_GUARD_MIN_PAIRS,
    )
    if plot_path is not None and len(scores.labels):
        plot_comparison(
            scores.labels,
            scores.active,
            scores.candidate,
            plot_path,
            (active.version, candidate.version),
        )
    return comparison, scores


def guarded_activate(
    candidate: ModelVersion,
    *,
    by=None,
    force: bool = False,
    rescore: bool = True,
    note: str = "",
    plot_path: str | Path | None = None,
    progress: bool = False,
) -> GuardDecision:
    """Compare, then activate only if the guard allows it or ``force`` (module docstring)."""
    candidate_service = load_for_comparison(candidate)
    active = ModelVersion.objects.active().exclude(pk=candidate.pk).first()
    comparison, scores, active_problem = None, None, ""
    if active is not None:
        try:
            active_service = load_for_comparison(active)
        except registry.ModelNotLoadable as error:
            active_problem = f"The active model no longer loads ({error}); nothing to compare."
        else:
            comparison, scores = compare_on_heldout(
                active, candidate, plot_path=plot_path, services=(active_service, candidate_service)
            )
    if comparison is not None and not comparison.accepted and not force:
        return GuardDecision(
            candidate, False, comparison, "Not activated: the guard refused the candidate."
        )
    if comparison is None:
        kind = ModelActivation.Kind.UNGUARDED
    elif comparison.accepted:
        kind = ModelActivation.Kind.ACTIVATED
    else:
        kind = ModelActivation.Kind.FORCED
    registry.activate(
        candidate,
        by=by,
        kind=kind,
        metrics=comparison.as_dict() if comparison else {},
        note="\n".join(part for part in (note, active_problem) if part),
        check=False,  # loaded and scored above
    )
    queued = pipeline.rescore_catalog(candidate, progress=progress) if rescore else 0
    calibration = calibrate_on_heldout(candidate, candidate_service, scores)
    message = {
        ModelActivation.Kind.UNGUARDED: "Activated (no other loadable model to compare with).",
        ModelActivation.Kind.ACTIVATED: "Activated: the guard accepted the candidate.",
        ModelActivation.Kind.FORCED: "Activated with --force although the guard refused it.",
    }[kind]
    return GuardDecision(candidate, True, comparison, message, queued, calibration)


def calibrate_on_heldout(
    model_version: ModelVersion, service: ClipService, scores: HeldoutScores | None
) -> dict | None:
    """Fit P(match) on the held-out *verdicts* (not the made-up hard negatives).

    Scores them when the comparison did not (nothing was compared); returns None
    and keeps the model's calibration when there are too few.
    """
    if scores is None:
        pairs = [pair for pair in heldout_pairs() if pair.origin in {"verdict", "corrected"}]
        root = Path(settings.MEDIA_ROOT).resolve()
        cosines = cosine_scores(
            service, [root / p.image_name for p in pairs], [p.text for p in pairs]
        )
        labels = np.array([pair.is_match for pair in pairs], dtype=np.int64)
    else:
        real = np.array([pair.origin in {"verdict", "corrected"} for pair in scores.pairs], bool)
        cosines, labels = scores.candidate[real], scores.labels[real].astype(np.int64)
    similarity = np.clip(cosines, 0.0, 1.0)
    model_version.refresh_from_db()
    fitted = store_fitted_calibration(model_version, similarity, labels, "held-out at activation")
    if fitted is None and model_version.calibration is None and scores is not None:
        # Too few verdicts and nothing shipped: fit on the whole held-out set (its hard
        # negatives included), so match_probability is there until verdicts refit it.
        fitted = store_fitted_calibration(
            model_version,
            np.clip(scores.candidate, 0.0, 1.0),
            scores.labels.astype(np.int64),
            "held-out pairs with hard negatives at activation (too few verdicts)",
            min_verdicts=settings.ACTIVATION_GUARD_MIN_PAIRS,
        )
    return fitted


# --- evaluate_model --compare ------------------------------------------------------------
@dataclass
class ComparedModel:
    """A model named on the command line: its label, loaded service and threshold."""

    label: str
    service: ClipService
    threshold: float


def model_to_compare(spec: str) -> ComparedModel:
    """``active``, a registered version slug, or a model directory (not registered)."""
    if spec == "active":
        model_version = registry.active_model()
    else:
        model_version = ModelVersion.objects.filter(version=spec).first()
    if model_version is not None:
        return ComparedModel(
            model_version.version, load_for_comparison(model_version), model_version.threshold
        )
    if not Path(spec).is_dir():
        raise ModelVersion.DoesNotExist(
            f"No model version {spec!r} and no model directory at that path."
        )
    threshold = read_model_metadata(spec).get("threshold", settings.CLIP_SIMILARITY_THRESHOLD)
    try:
        service = ClipService.load(
            spec,
            device=settings.CLIP_DEVICE,
            dtype="float32",
            threshold=float(threshold),
            batch_size=settings.CLIP_BATCH_SIZE,
            local_files_only=True,
        )
    except ModelLoadError as error:
        raise registry.ModelNotLoadable(f"{spec} is not loadable: {error}") from error
    return ComparedModel(str(spec), service, float(threshold))


@dataclass
class PairScores:
    """Both models' raw cosines of the same labelled pairs, with each pair's slices."""

    source: str
    labels: np.ndarray
    active: np.ndarray
    candidate: np.ndarray
    slices: list[dict[str, str]]


def score_pairs(
    active: ComparedModel,
    candidate: ComparedModel,
    *,
    csv_path: str | Path | None = None,
    root_dir: str | Path | None = None,
    synthetic: tuple[int, int] | None = None,
) -> PairScores:
    """Score one set of pairs with both models: a labelled CSV, ``synthetic=(seed, n)``
    fresh synthetic pairs (sliced by kind of mismatch), or by default the held-out
    verdict set with its hard negatives (sliced by category and kind)."""
    if synthetic is not None:
        seed, n = synthetic
        runs = [evaluate_on_synthetic(model.service, seed, n) for model in (active, candidate)]
        return PairScores(
            f"{n} synthetic pairs (seed {seed})",
            runs[0].labels.astype(bool),
            runs[0].cosines,
            runs[1].cosines,
            [{"mismatch kind": kind or "match"} for kind in runs[0].mismatch_types],
        )
    if csv_path is not None:
        rows = read_training_csv(csv_path, root_dir)
        paths, texts = [row.image_path for row in rows], [row.text for row in rows]
        labels = np.array([row.is_match for row in rows], dtype=bool)
        slices: list[dict[str, str]] = [{} for _ in rows]
        source = f"{len(rows)} pairs of {csv_path}"
    else:
        pairs = heldout_pairs()
        root = Path(settings.MEDIA_ROOT).resolve()
        paths, texts = [root / pair.image_name for pair in pairs], [pair.text for pair in pairs]
        labels = np.array([pair.is_match for pair in pairs], dtype=bool)
        slices = [pair.slices for pair in pairs]
        source = f"{len(pairs)} held-out verdict pairs (with hard negatives)"
    return PairScores(
        source,
        labels,
        cosine_scores(active.service, paths, texts),
        cosine_scores(candidate.service, paths, texts),
        slices,
    )


def compare_models(
    active: ComparedModel, candidate: ComparedModel, scores: PairScores
) -> Comparison:
    """The guard's table for two models on the same pairs (the guard's margins)."""
    return compare_scores(
        scores.labels,
        scores.active,
        scores.candidate,
        scores.slices,
        active_model=active.label,
        candidate_model=candidate.label,
        active_threshold=active.threshold,
        candidate_threshold=candidate.threshold,
        margin=settings.ACTIVATION_GUARD_MARGIN,
        min_slice=settings.ACTIVATION_GUARD_MIN_SLICE,
        min_pairs=settings.ACTIVATION_GUARD_MIN_PAIRS,
    )


def guard_for_the_scorer(
    candidate: ModelVersion, *, by=None, force: bool = False, progress: bool = False
):
    """``guarded_activate`` in the shape ``registry.activate_guarded`` hands to the admin."""
    decision = guarded_activate(candidate, by=by, force=force, progress=progress)
    return registry.GuardedActivation(
        activated=decision.activated,
        message=decision.message,
        table=format_comparison(decision.comparison) if decision.comparison else "",
        queued=decision.queued,
    )
