"""The review dashboard: open items by reason, verdicts per day, histogram, agreement."""

from __future__ import annotations

import base64
import io
import re

import pytest
from django.urls import reverse
from PIL import Image

from clipanalysis import review, review_dashboard
from tests.clipanalysis.test_review_queue import scored_item

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin:clipanalysis_reviewitem_dashboard")


@pytest.fixture
def judged(reviewer, settings):
    """Five verdicts: model and reviewer agree on three, disagree on one; one bad image."""
    settings.REVIEW_UNCERTAINTY_BAND = 0.03
    verdicts = [
        (0.27, "match"),  # model match (uncertain), reviewer match: agree
        (0.26, "mismatch"),  # model match, reviewer mismatch: disagree
        (0.10, "mismatch"),  # both mismatch: agree
        (0.05, "mismatch"),  # both mismatch: agree
        (0.12, "bad_image"),  # left out of agreement
    ]
    for score, decision in verdicts:
        review.record_verdict(scored_item(score), reviewer=reviewer, decision=decision)
    # Still open: two mismatches, one of which also fails quality.
    scored_item(0.10)
    scored_item(0.20, quality_failures=("blur",))


def test_open_items_by_reason_counts_every_reason(judged):
    counts = dict(review_dashboard.open_items_by_reason())
    assert counts == {
        "Image–text mismatch": 2,
        "Uncertain score": 0,
        "Quality check failed": 1,
        "Image contradicts a stated attribute": 0,
        "Image contradicts the product's category": 0,
    }


def test_agreement_between_model_and_reviewers(judged):
    overall, by_version = review_dashboard.agreement()
    assert (overall.both_match, overall.both_mismatch) == (1, 2)
    assert overall.model_match_reviewer_mismatch == 1
    assert overall.model_mismatch_reviewer_match == 0
    assert overall.total == 4
    assert overall.rate == pytest.approx(0.75)
    assert [stats.total for _, stats in by_version] == [4]


def test_scores_by_decision_feed_the_histogram(judged):
    scores = review_dashboard.scores_by_decision()
    assert sorted(scores["match"]) == [0.27]
    assert sorted(scores["mismatch"]) == pytest.approx([0.05, 0.10, 0.26])


def test_verdicts_per_day(judged):
    (today,) = review_dashboard.verdicts_per_day()
    assert (today["total"], today["match"], today["mismatch"], today["bad_image"]) == (5, 1, 3, 1)


def test_dashboard_page_renders_a_png_histogram_and_the_numbers(client, reviewer, judged):
    client.force_login(reviewer)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    encoded = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    chart = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert chart.format == "PNG"
    assert chart.size == (700, 320)
    assert chart.convert("L").getextrema()[0] < 128  # something is drawn on it
    assert "1 matches, 3 mismatches" in html
    assert '<span class="agreement-percent">75%</span>' in html
    assert '<td class="total">5</td>' in html
    assert "(2 open)" in html


def test_dashboard_with_no_verdicts_renders(client, reviewer):
    client.force_login(reviewer)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    assert "No match / mismatch verdicts yet." in response.content.decode()
