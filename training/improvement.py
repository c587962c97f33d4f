"""The whole learning loop as one guarded step: ``manage.py improve_model``.

ORM-aware. Steps of ``improve_model`` (each recorded in an ``ImprovementRun``):

1. export the verdicts (``training.export.export_verdicts``) with the held-out
   share (``TRAINING_HELDOUT_FRACTION``: those products are never trained on,
   the guard compares on them) and the mix (hard negatives; replay for the demo
   model's lineage);
2. fine-tune the active model on ``train.csv`` / ``val.csv``;
3. register the best checkpoint (inactive) and compare it with the active model
   on the held-out verdict set (``training.activation_guard.guarded_activate``);
4. activate it only when the guard accepts it (then re-score and calibrate, as
   the guard does); otherwise the active model stays, and the run says why.

It runs for minutes to hours, so never in a web request: the command runs it in
the foreground, the django-q2 task ``training.tasks.improve_model_task`` in a
worker with its own timeout (``IMPROVE_MODEL_TIMEOUT``), and the optional
schedules (``improve_model --schedule``) enqueue that task weekly and when
``IMPROVE_MODEL_AFTER_VERDICTS`` new verdicts have arrived since the last run.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from clipanalysis import registry
from clipanalysis.models import ModelVersion
from training.activation_guard import guarded_activate
from training.comparison import format_comparison
from training.export import (
    TrainingMix,
    counted_verdicts,
    default_synthetic_replay,
    descends_from_demo,
    export_verdicts,
)
from training.finetune import fine_tune_from_csv
from training.finetune_config import DEMO_RECIPE, PRETRAINED_RECIPE, FineTuneConfig
from training.models import ImprovementRun

logger = logging.getLogger(__name__)

SCHEDULE_WEEKLY = "improve_model_weekly"
SCHEDULE_VERDICTS = "improve_model_after_verdicts"


def recipe_for(base: ModelVersion | None, **overrides) -> FineTuneConfig:
    """The fine-tuning settings for ``base``'s lineage (``finetune_config``: the demo
    model's or a pretrained CLIP's), with the settings an operator named (``None``: the
    recipe's own)."""
    recipe = DEMO_RECIPE if descends_from_demo(base) else PRETRAINED_RECIPE
    named = {name: value for name, value in overrides.items() if value is not None}
    return replace(recipe, **named)


def improve_model(
    *,
    config: FineTuneConfig | None = None,
    mix: TrainingMix | None = None,
    heldout_fraction: float | None = None,
    val_fraction: float = 0.2,
    output_dir: str | Path | None = None,
    trigger: str = "manual",
    by=None,
    progress: bool = False,
) -> ImprovementRun:
    """Run the loop once (module docstring); return the stored run, whatever happened."""
    base = registry.active_model()
    run = ImprovementRun.objects.create(
        trigger=trigger, base_model=base, verdicts=counted_verdicts().labelling().count()
    )
    output = Path(output_dir or settings.MODELS_DIR / f"improvement-{run.pk}")
    config = config or recipe_for(base)
    if mix is None:
        mix = TrainingMix(synthetic_replay=default_synthetic_replay())
    report: dict = {"output_dir": str(output), "config": asdict(config), "mix": asdict(mix)}
    try:
        export = export_verdicts(
            output / "export",
            val_fraction=val_fraction,
            heldout_fraction=settings.TRAINING_HELDOUT_FRACTION
            if heldout_fraction is None
            else heldout_fraction,
            seed=config.seed,
            mix=mix,
        )
        report["export"] = export.as_dict()
        if not export.train.match or {export.val.match > 0, export.val.mismatch > 0} != {True}:
            return _finish(
                run,
                ImprovementRun.Status.SKIPPED,
                "Not enough verdicts to learn from: training needs matches, and validation "
                f"both kinds (train {export.train.match} match; val {export.val.match} match, "
                f"{export.val.mismatch} mismatch).",
                report,
            )
        tuned = fine_tune_from_csv(
            base.name_or_path,
            export.train_path,
            output / "run",
            config,
            val_csv=export.val_path,
            root_dir=export.root,
            progress=progress,
        )
        report["fine_tune"] = {
            "steps": tuned.global_step,
            "best_epoch": tuned.best_epoch,
            "validation_roc_auc_before": tuned.initial_val_roc_auc,
            "validation_roc_auc_after": tuned.evaluation.roc_auc,
            "threshold": tuned.threshold,
        }
        candidate = registry.register_model(
            tuned.best_model_dir,
            source=ModelVersion.Source.TRAINED,
            base_model=base.name_or_path,
            metrics=tuned.metrics,
            training_summary=tuned.training_summary,
            threshold=tuned.threshold,
        )
        run.candidate = candidate
        decision = guarded_activate(
            candidate,
            by=by,
            note=f"improve_model run {run.pk} ({trigger})",
            plot_path=output / "comparison.png",
        )
        report["comparison"] = decision.comparison.as_dict() if decision.comparison else None
        if decision.comparison:
            report["comparison_table"] = format_comparison(decision.comparison)
        report["queued_for_rescoring"] = decision.queued
        report["calibration"] = decision.calibration
        status = (
            ImprovementRun.Status.ACTIVATED if decision.activated else ImprovementRun.Status.REFUSED
        )
        return _finish(run, status, f"{candidate.version}: {decision.message}", report)
    except Exception as error:  # the run must say it failed, whatever broke
        logger.exception("improve_model run %s failed", run.pk)
        report["traceback"] = traceback.format_exc()
        _finish(run, ImprovementRun.Status.FAILED, f"{type(error).__name__}: {error}", report)
        raise


def _finish(run: ImprovementRun, status: str, message: str, report: dict) -> ImprovementRun:
    run.status, run.message, run.report = status, message, report
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "message", "report", "finished_at", "candidate"])
    return run


def new_verdicts_since_last_run() -> int:
    """Verdicts recorded since the newest run started (all of them before any run)."""
    last = ImprovementRun.objects.order_by("-started_at").first()
    verdicts = counted_verdicts(last.started_at if last else None).labelling()
    return verdicts.count()


def running() -> ImprovementRun | None:
    """A run still within its time limit (a longer one was killed with its worker)."""
    limit = timezone.now() - timedelta(seconds=settings.IMPROVE_MODEL_TIMEOUT)
    return ImprovementRun.objects.filter(
        status=ImprovementRun.Status.RUNNING, started_at__gte=limit
    ).first()


def enqueue_improvement(trigger: str = "weekly") -> str | None:
    """Queue ``improve_model_task`` with its long timeout, unless a run is under way."""
    from django_q.tasks import async_task

    if running() is not None:
        logger.info("improve_model not queued (%s): a run is under way", trigger)
        return None
    return async_task(
        "training.tasks.improve_model_task", trigger, timeout=settings.IMPROVE_MODEL_TIMEOUT
    )


def enqueue_if_enough_verdicts() -> str | None:
    """The frequent schedule: queue a run once ``IMPROVE_MODEL_AFTER_VERDICTS`` arrived."""
    if new_verdicts_since_last_run() < settings.IMPROVE_MODEL_AFTER_VERDICTS:
        return None
    return enqueue_improvement("verdicts")


def install_schedules() -> None:
    """Weekly, and hourly "enough new verdicts?" (both only enqueue; training is a task)."""
    from django_q.models import Schedule

    for name, func, kind in (
        (SCHEDULE_WEEKLY, "training.improvement.enqueue_improvement", Schedule.WEEKLY),
        (SCHEDULE_VERDICTS, "training.improvement.enqueue_if_enough_verdicts", Schedule.HOURLY),
    ):
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": kind, "repeats": -1}
        )


def remove_schedules() -> int:
    from django_q.models import Schedule

    return Schedule.objects.filter(name__in=[SCHEDULE_WEEKLY, SCHEDULE_VERDICTS]).delete()[0]
