"""Queue admin: "Assign to reviewer…", the "My items" filter; product admin: score and review."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from clipanalysis import review
from clipanalysis.models import ReviewItem
from tests.clipanalysis.test_review_admin_views import messages_of, review_url, rows_in_page
from tests.clipanalysis.test_review_queue import scored_item

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:clipanalysis_reviewitem_changelist")
PRODUCTS = reverse("admin:catalog_product_changelist")


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


@pytest.fixture
def omar(reviewer) -> User:
    other = User.objects.create_user("omar", "omar@example.com", "x-pass-123", is_staff=True)
    other.groups.add(*reviewer.groups.all())
    return other


def test_assign_to_reviewer_then_my_items(reviewer_client, reviewer, omar, client):
    mine, theirs, free = (
        scored_item(0.05, sku="SKU-A"),
        scored_item(0.06, sku="SKU-B"),
        scored_item(0.07, sku="SKU-C"),
    )
    page = reviewer_client.get(CHANGELIST).content.decode()
    assert "Assign to reviewer…" in page and 'name="assignee"' in page
    assert f'<option value="{omar.pk}">omar</option>' in page

    response = reviewer_client.post(
        CHANGELIST,
        {"action": "assign_to_reviewer", "_selected_action": [theirs.pk], "assignee": omar.pk},
    )
    assert response.status_code == 302
    assert "Assigned 1 open item(s) to omar." in messages_of(response)
    reviewer_client.post(
        CHANGELIST,
        {"action": "assign_to_reviewer", "_selected_action": [mine.pk], "assignee": reviewer.pk},
    )
    theirs.refresh_from_db()
    assert theirs.assigned_to == omar
    assert rows_in_page(reviewer_client.get(CHANGELIST + "?mine=yes")) == ["SKU-A"]
    # Rita's next item skips omar's; omar's "my items" holds his.
    assert review.next_item_for(reviewer) == mine
    client.force_login(omar)
    assert rows_in_page(client.get(CHANGELIST + "?mine=yes")) == ["SKU-B"]
    assert free.assigned_to is None


def test_assign_offers_and_accepts_only_reviewers(reviewer_client):
    item = scored_item(0.05)
    outsider = User.objects.create_user("olga", "o@example.com", "x-pass-123", is_staff=True)
    assert ">olga</option>" not in reviewer_client.get(CHANGELIST).content.decode()
    response = reviewer_client.post(
        CHANGELIST,
        {"action": "assign_to_reviewer", "_selected_action": [item.pk], "assignee": outsider.pk},
    )
    assert not any(message.startswith("Assigned") for message in messages_of(response))
    item.refresh_from_db()
    assert item.assigned_to is None


def test_product_admin_shows_score_and_review_state(admin_client):
    item = scored_item(0.05, sku="SKU-PROD-1")
    html = admin_client.get(PRODUCTS).content.decode()
    assert "0.050" in html
    assert f'<a href="{review_url(item)}">Open</a>' in html
    review.record_verdict(
        ReviewItem.objects.get(pk=item.pk), reviewer=_superuser(), decision="match"
    )
    html = admin_client.get(PRODUCTS).content.decode()
    assert f'<a href="{review_url(item)}">Resolved</a>' in html


def _superuser() -> User:
    return User.objects.filter(is_superuser=True).first()
