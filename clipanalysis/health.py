"""``/healthz``: what a load balancer polls (no authentication, no throttle).

Four checks, each with its own answer: the database answers a query; the
broker answers (Redis ping and queue length, or the ORM queue's table); the
active model's files are there and loadable as safetensors (looked at, not
loaded: the web process never loads the model); the oldest pending analysis
is younger than ``HEALTH_MAX_QUEUE_AGE_SECONDS`` (with the whole backlog: pending,
running, failed, done, rate and ETA). The answer is 503 with
``Retry-After`` when the database or the broker is down (this web process
cannot take uploads), 200 otherwise, with ``"status": "degraded"`` when only
the model or the queue age is wrong (workers' business, not this node's).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_q.brokers import get_broker

from clipanalysis.clip_service import model_files_problem
from clipanalysis.models import ModelVersion
from clipanalysis.scoring_backlog import scoring_backlog

CRITICAL = ("database", "broker")


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> dict:
    broker = get_broker()
    broker.ping()
    return {"ok": True, "broker": broker.info(), "queued": broker.queue_size()}


def check_model() -> dict:
    model_version = ModelVersion.objects.active().first()
    if model_version is None:
        name, version = settings.CLIP_MODEL_NAME, None
    else:
        name, version = model_version.name_or_path, model_version.version
    problem = model_files_problem(name)
    return {"ok": problem is None, "version": version, "location": name, "problem": problem}


def check_queue() -> dict:
    """The backlog of background scoring (``scoring_backlog``); ``ok`` while the oldest
    pending analysis is younger than ``HEALTH_MAX_QUEUE_AGE_SECONDS``."""
    backlog = scoring_backlog()
    age = backlog.oldest_pending_seconds or 0.0
    limit = settings.HEALTH_MAX_QUEUE_AGE_SECONDS
    return {
        "ok": age <= limit,
        **backlog.as_dict(),
        "oldest_pending_seconds": round(age, 1),
        "limit_seconds": limit,
    }


CHECKS: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "broker": check_broker,
    "model": check_model,
    "queue": check_queue,
}


def run_checks() -> dict[str, dict]:
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        if name in ("model", "queue") and not results["database"]["ok"]:
            results[name] = {"ok": False, "problem": "skipped: the database is unavailable"}
            continue
        started = time.perf_counter()
        try:
            outcome = check()
        except Exception as error:  # any failure of a dependency is the check's answer
            outcome = {"ok": False, "problem": f"{type(error).__name__}: {error}"[:500]}
        outcome["ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = outcome
    return results


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    down = [name for name in CRITICAL if not checks[name]["ok"]]
    if down:
        status = "unavailable"
    elif all(check["ok"] for check in checks.values()):
        status = "ok"
    else:
        status = "degraded"
    response = JsonResponse({"status": status, "checks": checks}, status=503 if down else 200)
    if down:
        response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    return response
