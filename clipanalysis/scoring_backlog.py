"""How much background scoring is left: the figures an operator watches after seeding,
an activation or a bulk import (the review dashboard and ``/healthz`` show them).

One aggregate query over ``AnalysisResult``: pending and running rows (work the
workers still have), failed current results (what needs attention: an
out-of-date failed row no longer counts), the age of the oldest pending row,
and the rate of the last ``RATE_WINDOW`` for an estimate of when it is done.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone

from clipanalysis.models import AnalysisResult

Status = AnalysisResult.Status
RATE_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class ScoringBacklog:
    pending: int
    running: int
    failed: int
    done: int
    oldest_pending_seconds: float | None
    done_per_minute: float  # over the last RATE_WINDOW
    eta_seconds: float | None  # None when nothing is left or nothing finished lately

    @property
    def left(self) -> int:
        return self.pending + self.running

    def as_dict(self) -> dict:
        age = self.oldest_pending_seconds
        return {
            **asdict(self),
            "oldest_pending_seconds": round(age, 1) if age is not None else None,
            "left": self.left,
        }


def scoring_backlog() -> ScoringBacklog:
    now = timezone.now()
    figures = AnalysisResult.objects.aggregate(
        pending=Count("pk", filter=Q(status=Status.PENDING)),
        running=Count("pk", filter=Q(status=Status.RUNNING)),
        failed=Count("pk", filter=Q(status=Status.FAILED, is_current=True)),
        done=Count("pk", filter=Q(status=Status.DONE, is_current=True)),
        recent=Count("pk", filter=Q(status=Status.DONE, finished_at__gte=now - RATE_WINDOW)),
        oldest_pending=Min("created_at", filter=Q(status=Status.PENDING)),
    )
    oldest = figures["oldest_pending"]
    per_minute = figures["recent"] / (RATE_WINDOW.total_seconds() / 60)
    left = figures["pending"] + figures["running"]
    return ScoringBacklog(
        pending=figures["pending"],
        running=figures["running"],
        failed=figures["failed"],
        done=figures["done"],
        oldest_pending_seconds=(now - oldest).total_seconds() if oldest else None,
        done_per_minute=round(per_minute, 1),
        eta_seconds=round(left / per_minute * 60) if left and per_minute else None,
    )
