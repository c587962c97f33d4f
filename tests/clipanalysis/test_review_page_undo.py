"""The review page: Undo (button and U key), revise with a reason, the verdict changes table."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clipanalysis import review
from clipanalysis.models import ReviewItem, Verdict, VerdictChange
from tests.clipanalysis.test_review_admin_views import messages_of, review_url
from tests.clipanalysis.test_review_queue import scored_item

pytestmark = pytest.mark.django_db
UNDO = reverse("admin:clipanalysis_reviewitem_undo")
State = ReviewItem.State


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


def test_undo_after_a_mis_key_goes_back_to_that_item(reviewer_client, reviewer):
    mis_keyed, _next = scored_item(0.05), scored_item(0.20)
    review.claim_item(mis_keyed, reviewer)
    reviewer_client.post(review_url(mis_keyed), {"decision": "match"})
    page = reviewer_client.get(review_url(_next)).content.decode()
    assert 'data-shortcut="u"' in page and "Undo Match on" in page

    response = reviewer_client.post(UNDO, {"back": _next.pk})
    assert response["Location"] == review_url(mis_keyed)
    mis_keyed.refresh_from_db()
    assert (mis_keyed.state, mis_keyed.assigned_to) == (State.IN_REVIEW, reviewer)
    assert Verdict.objects.get().retracted_at is not None
    page = reviewer_client.get(review_url(mis_keyed)).content.decode()
    assert "(undone)" in page and 'value="mismatch"' in page  # the verdict buttons are back
    reviewer_client.post(review_url(mis_keyed), {"decision": "mismatch"})
    assert mis_keyed.latest_verdict.decision == "mismatch"


def test_undo_with_nothing_to_undo_stays_and_says_so(reviewer_client):
    item = scored_item(0.05)
    response = reviewer_client.post(UNDO, {"back": item.pk})
    assert response["Location"] == review_url(item)
    assert "You have no verdict to undo." in messages_of(response)
    assert reviewer_client.get(UNDO).status_code == 405


def test_undo_needs_the_review_permission(client, reviewer):
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("vera", "v@example.com", "x-pass-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_reviewitem"))
    item = scored_item(0.05)
    review.record_verdict(item, reviewer=reviewer, decision="match")
    client.force_login(viewer)
    assert client.post(UNDO).status_code == 403
    assert Verdict.objects.standing().count() == 1


def test_revise_with_a_reason_and_the_changes_table(reviewer_client, reviewer):
    item = scored_item(0.05)
    review.record_verdict(item, reviewer=reviewer, decision="match")
    page = reviewer_client.get(review_url(item)).content.decode()
    assert 'id="revise-form"' in page

    refused = reviewer_client.post(
        review_url(item), {"action": "revise", "decision": "mismatch", "reason": " "}
    )
    assert refused.status_code == 400 and "reason is required" in refused.content.decode()
    response = reviewer_client.post(
        review_url(item), {"action": "revise", "decision": "mismatch", "reason": "It is blue"}
    )
    assert response["Location"] == review_url(item)
    assert item.latest_verdict.decision == "mismatch"
    page = reviewer_client.get(review_url(item)).content.decode()
    table = page[page.index('class="review-changes"') :]
    assert "<td>Revised</td><td>Match</td><td>Mismatch</td><td>It is blue</td>" in table
    assert "<td>rita</td>" in table
    assert VerdictChange.objects.filter(action="revised").count() == 1


def test_the_image_links_to_its_full_resolution_for_zoom(reviewer_client):
    item = scored_item(0.05)
    page = reviewer_client.get(review_url(item)).content.decode()
    assert f'<a href="{item.image.image.url}" class="review-zoom"' in page
