"""Scoring a whole catalog (or a slice of it) from the command line.

ORM-aware. ``images_to_score`` says which images a run covers; ``score_catalog``
walks them in keyset chunks (``pk > last``, ``batch_size`` at a time: memory stays
the same whatever the catalog's size) and either scores each chunk in this process
(``pipeline.analyse_batch``: the worker's own code, claims included) or sends it to
the workers as one django-q2 task (``enqueue``). Interrupt it and run it again: what
was written stays written, claimed rows go back to pending, the rest is picked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from django.db import reset_queries, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django_q.tasks import async_task
from tqdm.auto import tqdm

from catalog.models import ProductImage
from clipanalysis import pipeline
from clipanalysis.models import AnalysisResult, ModelVersion
from clipanalysis.registry import active_model

Status = AnalysisResult.Status
BATCH_TASK = "clipanalysis.tasks.analyse_batch"
WHICH = ("all", "stale", "failed")


@dataclass(frozen=True)
class Selection:
    """Which images a run covers.

    ``which``: ``all`` (every image; finished results of the same key are kept, not
    redone), ``stale`` (no current result finished by the active model at its
    threshold: new images, edited descriptions, replaced files, another model, work
    left pending or running), ``failed`` (the current result failed: tried again,
    attempts reset). ``category`` and ``since`` (images uploaded or products edited
    since then) narrow any of them.
    """

    which: str = "stale"
    category: str | None = None
    since: datetime | None = None


@dataclass
class Progress:
    images: int = 0
    up_to_date: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0  # another worker holds the row
    queued: int = 0  # rows sent to the workers (``enqueue``)
    tasks: int = 0

    def summary(self) -> str:
        if self.tasks:
            return (
                f"{self.images} images: {self.queued} queued for the workers in "
                f"{self.tasks} tasks, {self.up_to_date} already up to date."
            )
        return (
            f"{self.images} images: {self.done} scored, {self.failed} failed, "
            f"{self.up_to_date} already up to date, {self.skipped} held by another worker."
        )


def images_to_score(selection: Selection, model_version: ModelVersion) -> QuerySet:
    if selection.which not in WHICH:
        raise ValueError(f"Unknown selection {selection.which!r}; choose from {WHICH}")
    images = ProductImage.objects.all()
    if selection.category:
        images = images.filter(product__category=selection.category)
    if selection.since:
        images = images.filter(
            Q(uploaded_at__gte=selection.since) | Q(product__updated_at__gte=selection.since)
        )
    current = AnalysisResult.objects.filter(image=OuterRef("pk"), is_current=True)
    if selection.which == "stale":
        finished = current.filter(
            model_version=model_version, status=Status.DONE, threshold=model_version.threshold
        )
        images = images.exclude(Exists(finished))
    elif selection.which == "failed":
        images = images.filter(Exists(current.filter(status=Status.FAILED)))
    return images.order_by("pk")


def score_catalog(
    selection: Selection,
    *,
    batch_size: int,
    enqueue: bool = False,
    progress: bool = True,
    progress_file: TextIO | None = None,
) -> Progress:
    """Score the selected images, ``batch_size`` at a time; returns what happened.

    Each chunk: one transaction makes the current result of every image (new rows
    are not enqueued: this run scores them), then its pending rows are scored here
    (``analyse_batch``) or sent to the workers as one task. The tqdm bar counts
    images and shows images/s and the time left.
    """
    model_version = active_model()
    images = images_to_score(selection, model_version)
    report = Progress()
    bar = tqdm(
        total=images.count(),
        desc="scoring",
        unit="img",
        disable=not progress,
        file=progress_file,
        smoothing=0.05,
    )
    last_pk = 0
    with bar:
        while True:
            chunk = list(images.filter(pk__gt=last_pk).values_list("pk", flat=True)[:batch_size])
            if not chunk:
                break
            last_pk = chunk[-1]
            with transaction.atomic():
                results = pipeline.request_analysis(
                    chunk,
                    model_version=model_version,
                    retry_failed=selection.which == "failed",
                    enqueue_new=False,
                )
            pending = [result.pk for result in results if result.status == Status.PENDING]
            report.images += len(chunk)
            report.up_to_date += sum(result.status == Status.DONE for result in results)
            if enqueue:
                _send(pending, report)
            elif pending:
                counts = pipeline.analyse_batch(pending)
                report.done += counts["done"]
                report.failed += counts["failed"]
                report.skipped += counts["skipped"]
            report.skipped += sum(result.status == Status.RUNNING for result in results)
            bar.update(len(chunk))
            bar.set_postfix(done=report.done, failed=report.failed, refresh=False)
            reset_queries()  # DEBUG keeps every query otherwise: memory would grow
    return report


def _send(result_ids: list[int], report: Progress) -> None:
    """One task for the chunk; a broker that is down leaves the rows to the sweeper."""
    if not result_ids:
        return
    AnalysisResult.objects.filter(pk__in=result_ids).update(enqueued_at=timezone.now())
    try:
        async_task(BATCH_TASK, result_ids, group="analysis")
    except Exception as error:  # redis ConnectionError, a locked ORM queue, …
        pipeline.logger.warning(
            "Broker unavailable, %d analyses left to the sweeper: %s", len(result_ids), error
        )
        AnalysisResult.objects.filter(pk__in=result_ids, status=Status.PENDING).update(
            enqueued_at=None
        )
        return
    report.queued += len(result_ids)
    report.tasks += 1
