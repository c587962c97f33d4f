"""How much background scoring is left: on the review dashboard and in /healthz."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clipanalysis.models import AnalysisResult
from tests.factories import add_image, image_bytes, make_product, packshot

pytestmark = pytest.mark.django_db
Status = AnalysisResult.Status


@pytest.fixture
def backlog(scoring_model):
    """Ten images, none analysed (no commit runs the tasks): then 4 done (3 of them in
    the last ten minutes), 1 running, 1 failed, 4 still pending, the oldest 300 s old."""
    for shade in range(10):
        add_image(make_product(), image_bytes(packshot((20 * shade, 90, 200))))
    rows = list(AnalysisResult.objects.order_by("pk").values_list("pk", flat=True))
    now = timezone.now()
    AnalysisResult.objects.filter(pk__in=rows[:3]).update(status=Status.DONE, finished_at=now)
    AnalysisResult.objects.filter(pk=rows[3]).update(
        status=Status.DONE, finished_at=now - timedelta(hours=2)
    )
    AnalysisResult.objects.filter(pk=rows[4]).update(status=Status.RUNNING)
    AnalysisResult.objects.filter(pk=rows[5]).update(status=Status.FAILED, error="boom")
    AnalysisResult.objects.filter(pk=rows[6]).update(created_at=now - timedelta(seconds=300))
    return rows


def test_healthz_shows_the_backlog(backlog, settings):
    settings.HEALTH_MAX_QUEUE_AGE_SECONDS = 3600
    queue = Client().get("/healthz").json()["checks"]["queue"]
    assert queue["ok"] is True
    assert (queue["pending"], queue["running"], queue["failed"], queue["done"]) == (4, 1, 1, 4)
    assert queue["left"] == 5
    assert 300 <= queue["oldest_pending_seconds"] < 360
    assert queue["done_per_minute"] == pytest.approx(0.3)  # 3 in the last 10 minutes
    assert queue["eta_seconds"] == pytest.approx(5 / 0.3 * 60, abs=1)


def test_an_old_pending_analysis_degrades_health(backlog, settings):
    settings.HEALTH_MAX_QUEUE_AGE_SECONDS = 60
    body = Client().get("/healthz").json()
    assert body["status"] == "degraded" and body["checks"]["queue"]["ok"] is False


def test_the_dashboard_shows_what_is_left(backlog, client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("admin:clipanalysis_reviewitem_dashboard")).content.decode()
    section = page[page.index('id="scoring-backlog"') :]

    def cell(name: str) -> str:
        return re.search(rf'class="backlog-{name}">([^<]+)<', section).group(1)

    assert cell("left") == "5"
    assert (cell("pending"), cell("running"), cell("done"), cell("failed")) == ("4", "1", "4", "1")
    assert cell("eta") == "17 min"
    assert "oldest waiting 30" in section
    assert "?status__exact=failed" in section


def test_an_empty_backlog_and_a_stalled_one_say_so(scoring_model, client, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:clipanalysis_reviewitem_dashboard")
    assert "Nothing left to score." in client.get(url).content.decode()
    add_image(make_product())  # pending, and nothing finished lately
    page = client.get(url).content.decode()
    assert "is a worker" in page and "qcluster" in page
    queue = Client().get("/healthz").json()["checks"]["queue"]
    assert queue["eta_seconds"] is None and queue["left"] == 1
