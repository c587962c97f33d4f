"""Leases on analysis rows: which worker may run a row now, and until when.

A claim gives the row a random owner token and a short lease
(``ANALYSIS_LEASE_SECONDS``); while the analysis runs, a ``Heartbeat`` thread renews
it every ``ANALYSIS_HEARTBEAT_SECONDS``. Every write a holder makes is conditional on
the row still being running *and* still carrying its token, so a worker whose lease
lapsed and was taken over (released by the sweeper, or claimed by another worker)
can neither renew it nor write its result: it logs and stops. A dead worker stops
renewing, so its lease lapses within one lease and the sweeper releases the row.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from clipanalysis.models import AnalysisResult

logger = logging.getLogger(__name__)
Status = AnalysisResult.Status


def new_token() -> str:
    """A claim's owner token: host and pid for operators, random for uniqueness."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(8)}"


def lease_deadline(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(seconds=settings.ANALYSIS_LEASE_SECONDS)


def held(result_id: int, token: str):
    """The row, if ``token`` still holds its lease (running, same owner)."""
    return AnalysisResult.objects.filter(pk=result_id, status=Status.RUNNING, lease_owner=token)


def renew(result_id: int, token: str) -> bool:
    """Push the lease one lease-length ahead; False when the token no longer holds it."""
    return bool(held(result_id, token).update(lease_expires_at=lease_deadline()))


def write_if_held(result_id: int, token: str, fields: dict) -> bool:
    """Write ``fields`` (and drop the lease) only while ``token`` holds the row."""
    return bool(held(result_id, token).update(**fields, lease_expires_at=None, lease_owner=""))


class Heartbeat:
    """Renew a lease from a daemon thread while the ``with`` block runs.

    ``lost`` is set when a renewal finds the lease taken over; the thread then
    stops (the final write will be refused too). A database error skips one beat:
    the lease outlives two missed beats.
    """

    def __init__(self, result_id: int, token: str, interval: float | None = None):
        self.tokens = {result_id: token}
        self.interval = interval if interval is not None else settings.ANALYSIS_HEARTBEAT_SECONDS
        self.lost = threading.Event()
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lease-heartbeat-{result_id}", daemon=True
        )

    @classmethod
    def for_rows(cls, tokens: dict[int, str], interval: float | None = None) -> Heartbeat:
        """One thread renewing a whole batch's leases (``{result_id: token}``)."""
        first, *_ = tokens.items()
        heartbeat = cls(*first, interval=interval)
        heartbeat.tokens = dict(tokens)
        return heartbeat

    def beat(self) -> bool:
        """One renewal of every lease still ours; False (and ``lost`` set) when one was
        taken over (it is renewed no more)."""
        for result_id, token in list(self.tokens.items()):
            if renew(result_id, token):
                continue
            del self.tokens[result_id]
            self.lost.set()
            logger.warning(
                "Analysis %s: lease %s was taken over; this worker's result will not be written",
                result_id,
                token,
            )
        self.beats += 1
        return not self.lost.is_set()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    close_old_connections()
                    self.beat()
                    if not self.tokens:
                        return
                except Exception as error:  # the database is briefly unreachable
                    logger.warning("Analyses %s: heartbeat failed: %s", list(self.tokens), error)
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=max(self.interval, 5))


def claim_pending(model_version_id: int, limit: int, exclude: int | None = None) -> dict[int, str]:
    """Claim up to ``limit`` pending rows of one model version, oldest first: the batch
    a worker scores along with the row its wake-up named (``{result_id: token}``).

    Safe under concurrency on every backend: the UPDATE is conditional on the row
    still being pending, so two workers never hold the same row. On PostgreSQL (and
    any backend with ``SKIP LOCKED``) the candidates are first locked with
    ``select_for_update(skip_locked=True)``, so a second worker takes the next rows
    at once instead of waiting for the first one's transaction.
    """
    if limit <= 0:
        return {}
    now = timezone.now()
    token = new_token()
    pending = AnalysisResult.objects.filter(
        status=Status.PENDING,
        model_version_id=model_version_id,
        attempts__lt=settings.ANALYSIS_MAX_ATTEMPTS,
    ).exclude(pk=exclude)
    candidates = pending.order_by("pk").values_list("pk", flat=True)
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True)
    with transaction.atomic():
        pending.filter(pk__in=list(candidates[:limit])).update(
            status=Status.RUNNING,
            lease_owner=token,
            lease_expires_at=lease_deadline(now),
            attempts=F("attempts") + 1,
            started_at=now,
        )
    claimed = held_by(token).order_by("pk").values_list("pk", flat=True)
    return dict.fromkeys(claimed, token)


def held_by(token: str):
    """The rows one claim (``token``) still holds."""
    return AnalysisResult.objects.filter(status=Status.RUNNING, lease_owner=token)
