"""The sweeper: ``pipeline.recover_stuck`` every ``ANALYSIS_SWEEP_SECONDS`` in the cluster.

A django-q2 schedule runs at most once a minute, too slow for a 30 s lease, so each
qcluster worker process starts a daemon thread when django-q2 sends ``post_spawn``
(in the worker, after the fork; it dies with the process). Several sweepers per
cluster are harmless: every release is a conditional UPDATE, so only one of them
re-enqueues a row, and none touches a row whose lease is still renewed.
"""

from __future__ import annotations

import logging
import random
import threading

from django.conf import settings
from django.db import close_old_connections
from django_q.conf import Conf

from clipanalysis.pipeline import recover_stuck

logger = logging.getLogger(__name__)
_started = threading.Event()


def sweep_forever(interval: float, stop: threading.Event) -> None:
    """Sweep every ``interval`` seconds (the first after a random part of it, so the
    processes of a cluster do not sweep in step) until ``stop`` is set."""
    delay = random.uniform(0, interval)
    while not stop.wait(delay):
        delay = interval
        try:
            close_old_connections()
            outcome = recover_stuck()
            if any(outcome.values()):
                logger.info("Sweeper: %s", outcome)
        except Exception as error:  # the database or broker is down: try again next time
            logger.warning("Sweeper: recover_stuck failed: %s", error)


def start_in_worker(sender=None, proc_name: str = "", **kwargs) -> threading.Thread | None:
    """``post_spawn`` receiver: start this worker process's sweeper thread (once).

    Not in sync mode: there django-q2 runs its worker loop inside the caller's process
    (a web request, a test) and sends ``post_spawn`` there too.
    """
    if Conf.SYNC or settings.ANALYSIS_SWEEP_SECONDS <= 0 or _started.is_set():
        return None
    _started.set()
    thread = threading.Thread(
        target=sweep_forever,
        args=(settings.ANALYSIS_SWEEP_SECONDS, threading.Event()),
        name=f"analysis-sweeper-{proc_name}",
        daemon=True,
    )
    thread.start()
    return thread
