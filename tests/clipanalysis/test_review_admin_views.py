"""The review queue in admin: changelist, review page, next item, bulk verdicts."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from catalog.models import Product
from clipanalysis import review
from clipanalysis.models import ModelVersion, ReviewItem, Verdict
from tests.clipanalysis.test_review_queue import scored_item

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:clipanalysis_reviewitem_changelist")
NEXT = reverse("admin:clipanalysis_reviewitem_next")
State = ReviewItem.State


def review_url(item: ReviewItem) -> str:
    return reverse("admin:clipanalysis_reviewitem_review", args=[item.pk])


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


@pytest.fixture
def other_client(reviewer):
    from django.contrib.auth.models import User
    from django.test import Client

    other = User.objects.create_user("omar", "omar@example.com", "x-pass-123", is_staff=True)
    other.groups.add(*reviewer.groups.all())
    client = Client()
    client.force_login(other)
    return client


def rows_in_page(response) -> list[str]:
    """The SKUs of the changelist's rows, in order."""
    return re.findall(r"<strong>(SKU-[\w-]+)</strong>", response.content.decode())


# --- changelist -----------------------------------------------------------------
def test_changelist_shows_what_a_reviewer_needs(reviewer_client):
    item = scored_item(
        0.12, sku="SKU-SHOW-1", category="mug", quality_failures=("blur",), zero_shot_label="shoe"
    )
    response = reviewer_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert item.image.image.url in html  # the thumbnail
    assert "max-width:96px" in html  # large enough to judge, small enough for 1280 px
    assert "Red cotton t-shirt with stripes" in html
    assert "0.120" in html and "#cf222e" in html  # red score badge
    assert "blur" in html
    assert "shoe</span> / mug" in html  # zero-shot vs product category
    assert str(item.result.model_version) in html
    assert review_url(item) in html
    assert "Start reviewing (1 open)" in html


def test_changelist_orders_furthest_below_threshold_then_newest(reviewer_client):
    scored_item(0.24, sku="SKU-NEAREST")
    scored_item(0.20, sku="SKU-NEAR-OLD")
    scored_item(0.20, sku="SKU-NEAR-NEW")
    scored_item(0.01, sku="SKU-FAR")
    response = reviewer_client.get(CHANGELIST)
    assert rows_in_page(response) == ["SKU-FAR", "SKU-NEAR-NEW", "SKU-NEAR-OLD", "SKU-NEAREST"]


def test_changelist_follows_the_uncertainty_order_setting(reviewer_client, settings):
    scored_item(0.01, sku="SKU-FAR")
    scored_item(0.20, sku="SKU-NEAR-OLD")
    scored_item(0.20, sku="SKU-NEAR-NEW")
    scored_item(0.24, sku="SKU-NEAREST")
    settings.REVIEW_QUEUE_ORDER = "uncertain"
    response = reviewer_client.get(CHANGELIST)
    assert rows_in_page(response) == ["SKU-NEAREST", "SKU-NEAR-NEW", "SKU-NEAR-OLD", "SKU-FAR"]


def test_changelist_query_count_does_not_grow_with_rows(
    reviewer_client, reviewer, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for index in range(3):
        item = scored_item(0.05 + index / 100, category=f"cat-{index}")
    review.claim_item(item, reviewer)
    with CaptureQueriesContext(connection) as few:
        assert reviewer_client.get(CHANGELIST).status_code == 200

    other_model = ModelVersion.objects.create(version="other-v2", name_or_path="x", threshold=0.3)
    for index in range(12):
        item = scored_item(
            0.02 + index / 100, quality_failures=("blur",), model_version=other_model
        )
        if index % 3 == 0:
            review.claim_item(item, reviewer)
    # Resolved rows show their verdict: that must not cost a query per row either.
    review.record_verdict(item, reviewer=reviewer, decision="match")
    with django_assert_max_num_queries(len(few)):
        response = reviewer_client.get(CHANGELIST + "?queue=all")
    assert len(rows_in_page(response)) == 15


def test_default_view_is_the_work_left_and_all_shows_resolved(reviewer_client, reviewer):
    done = scored_item(0.10, sku="SKU-DONE")
    scored_item(0.10, sku="SKU-TODO")
    review.record_verdict(done, reviewer=reviewer, decision="mismatch")
    assert rows_in_page(reviewer_client.get(CHANGELIST)) == ["SKU-TODO"]
    assert rows_in_page(reviewer_client.get(CHANGELIST + "?queue=resolved")) == ["SKU-DONE"]
    everything = reviewer_client.get(CHANGELIST + "?queue=all")
    assert sorted(rows_in_page(everything)) == ["SKU-DONE", "SKU-TODO"]
    assert "Mismatch" in everything.content.decode()


def test_filters(reviewer_client, reviewer, settings):
    settings.REVIEW_UNCERTAINTY_BAND = 0.03
    other_model = ModelVersion.objects.create(version="other-v2", name_or_path="x", threshold=0.3)
    scored_item(0.24, sku="SKU-UNCERTAIN", category="mug")
    scored_item(0.90, sku="SKU-BLURRY", quality_failures=("blur",), category="shoe")
    claimed = scored_item(0.05, sku="SKU-LOW", model_version=other_model)
    review.claim_item(claimed, reviewer)

    def skus(query: str) -> list[str]:
        response = reviewer_client.get(CHANGELIST + query)
        assert response.status_code == 200, query
        return sorted(rows_in_page(response))

    assert skus("?reason=quality") == ["SKU-BLURRY"]
    assert skus("?reason=uncertain") == ["SKU-UNCERTAIN"]
    assert skus("?reason=mismatch") == ["SKU-LOW", "SKU-UNCERTAIN"]
    assert skus("?queue=in_review") == ["SKU-LOW"]
    assert skus("?image__product__category=shoe") == ["SKU-BLURRY"]
    assert skus("?score=near") == ["SKU-UNCERTAIN"]
    assert skus("?score=0.0-0.1") == ["SKU-LOW"]
    assert skus("?score=0.5-1.0") == ["SKU-BLURRY"]
    assert skus(f"?result__model_version__id__exact={other_model.pk}") == ["SKU-LOW"]
    assert skus(f"?assigned_to__id__exact={reviewer.pk}") == ["SKU-LOW"]


def test_search_by_sku_and_text(reviewer_client):
    scored_item(0.10, sku="SKU-MUG-77", description="Blue ceramic mug")
    scored_item(0.10, sku="SKU-TEE-12", description="Red cotton t-shirt")
    assert rows_in_page(reviewer_client.get(CHANGELIST + "?q=MUG-77")) == ["SKU-MUG-77"]
    assert rows_in_page(reviewer_client.get(CHANGELIST + "?q=cotton")) == ["SKU-TEE-12"]


# --- review page ----------------------------------------------------------------
def test_review_page_shows_image_scores_quality_and_buttons(reviewer_client):
    item = scored_item(0.12, sku="SKU-PAGE", quality_failures=("blur",), zero_shot_label="shoe")
    response = reviewer_client.get(review_url(item))
    assert response.status_code == 200
    html = response.content.decode()
    assert item.image.image.url in html
    assert "Red cotton t-shirt with stripes" in html
    assert "0.120" in html and "threshold 0.250" in html
    assert "failing: blur" in html
    assert 'value="match"' in html and 'value="mismatch"' in html and 'value="bad_image"' in html
    assert "Save corrected description" in html
    assert 'data-shortcut="m"' in html
    assert "review/review.js" in html
    assert "scoring-model-banner" in html  # the base template's banner still shows


def test_match_button_records_verdict_and_opens_next_item(reviewer_client, reviewer):
    first, second = scored_item(0.24), scored_item(0.10)
    response = reviewer_client.post(review_url(first), {"decision": "match", "comment": "ok"})
    assert response.status_code == 302
    assert response["Location"] == review_url(second)
    verdict = Verdict.objects.get()
    assert (verdict.review_item, verdict.decision, verdict.reviewer) == (first, "match", reviewer)
    assert verdict.comment == "ok"
    second.refresh_from_db()
    assert (second.state, second.assigned_to) == (State.IN_REVIEW, reviewer)
    assert "Match recorded for" in messages_of(response)[0]


def test_last_verdict_returns_to_the_list_with_a_message(reviewer_client):
    item = scored_item(0.10)
    response = reviewer_client.post(review_url(item), {"decision": "bad_image"})
    assert response["Location"] == CHANGELIST
    assert "The review queue is empty" in messages_of(response)[-1]


def test_double_click_records_one_verdict_and_lands_on_the_same_next_item(reviewer_client):
    first, second = scored_item(0.24), scored_item(0.10)
    one = reviewer_client.post(review_url(first), {"decision": "mismatch"})
    two = reviewer_client.post(review_url(first), {"decision": "mismatch"})
    assert Verdict.objects.count() == 1
    assert one["Location"] == two["Location"] == review_url(second)
    assert "already recorded" in messages_of(two)[-1]


def test_verdict_on_item_resolved_by_someone_else_is_a_clear_conflict(
    reviewer_client, other_client
):
    item = scored_item(0.10)
    assert other_client.post(review_url(item), {"decision": "match"}).status_code == 302
    response = reviewer_client.post(review_url(item), {"decision": "mismatch"})
    assert response.status_code == 409
    assert "already resolved by omar" in response.content.decode()
    assert Verdict.objects.count() == 1
    assert Verdict.objects.get().decision == "match"


def test_unknown_decision_is_a_400_with_a_message(reviewer_client):
    item = scored_item(0.10)
    response = reviewer_client.post(review_url(item), {"decision": "perhaps"})
    assert response.status_code == 400
    assert "Unknown decision" in response.content.decode()
    assert not Verdict.objects.exists()


def test_corrected_description_updates_product_and_moves_on(reviewer_client):
    item, other = scored_item(0.24, description="Red cotton t-shirt"), scored_item(0.10)
    response = reviewer_client.post(
        review_url(item), {"action": "correct", "corrected_description": "Blue ceramic mug"}
    )
    assert response["Location"] == review_url(other)
    assert Product.objects.get(pk=item.image.product_id).description == "Blue ceramic mug"
    verdict = Verdict.objects.get()
    assert (verdict.decision, verdict.corrected_description) == ("mismatch", "Blue ceramic mug")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The corrected description is empty"),
        ("   ", "The corrected description is empty"),
        ("z" * 10_000, "is 10,000 characters long; the limit is 5,000"),
    ],
)
def test_bad_corrected_description_is_a_400_and_keeps_the_product(reviewer_client, text, message):
    item = scored_item(0.10, description="Red cotton t-shirt")
    response = reviewer_client.post(
        review_url(item), {"action": "correct", "corrected_description": text}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Product.objects.get(pk=item.image.product_id).description == "Red cotton t-shirt"
    assert not Verdict.objects.exists()
    item.refresh_from_db()
    assert item.state != State.RESOLVED


def test_resolved_item_page_shows_history_and_no_verdict_buttons(reviewer_client, reviewer):
    item = scored_item(0.10)
    review.record_verdict(item, reviewer=reviewer, decision="bad_image", comment="torn label")
    html = reviewer_client.get(review_url(item)).content.decode()
    assert 'value="bad_image"' not in html
    assert "torn label" in html and "Bad image (counts)" in html


def test_missing_item_is_404(reviewer_client):
    assert (
        reviewer_client.get(reverse("admin:clipanalysis_reviewitem_review", args=[999])).status_code
        == 404
    )


# --- next item ------------------------------------------------------------------
def test_start_reviewing_claims_the_top_item(reviewer_client, reviewer):
    scored_item(0.24)
    top = scored_item(0.01)
    response = reviewer_client.post(NEXT)
    assert response["Location"] == review_url(top)
    top.refresh_from_db()
    assert (top.state, top.assigned_to) == (State.IN_REVIEW, reviewer)


def test_skip_releases_the_item_and_claims_the_next(reviewer_client, reviewer):
    first, second = scored_item(0.24), scored_item(0.10)
    review.claim_item(first, reviewer)
    response = reviewer_client.post(NEXT, {"after": first.pk})
    assert response["Location"] == review_url(second)
    first.refresh_from_db()
    assert (first.state, first.assigned_to) == (State.OPEN, None)
    assert not Verdict.objects.exists()


def test_next_does_not_hand_out_an_item_someone_else_holds(reviewer_client, other_client):
    held, free = scored_item(0.10), scored_item(0.24)
    other_client.post(NEXT)
    held.refresh_from_db()
    assert held.state == State.IN_REVIEW
    assert reviewer_client.post(NEXT)["Location"] == review_url(free)


def test_next_needs_post(reviewer_client):
    scored_item(0.10)
    assert reviewer_client.get(NEXT).status_code == 405
    assert not ReviewItem.objects.filter(state=State.IN_REVIEW).exists()


# --- bulk actions ---------------------------------------------------------------
def test_bulk_mark_as_match_asks_for_confirmation_first(reviewer_client, reviewer):
    items = [scored_item(0.10), scored_item(0.12)]
    pks = [str(item.pk) for item in items]
    form = {"action": "mark_match", "_selected_action": pks}
    response = reviewer_client.post(CHANGELIST, form)
    assert response.status_code == 200
    assert "Yes, mark 2 as Match" in response.content.decode()
    assert not Verdict.objects.exists()

    response = reviewer_client.post(CHANGELIST, {**form, "post": "yes"})
    assert response.status_code == 302
    assert sorted(Verdict.objects.values_list("decision", flat=True)) == ["match", "match"]
    assert set(Verdict.objects.values_list("reviewer", flat=True)) == {reviewer.pk}
    assert "Recorded Match on 2 item(s)." in messages_of(response)


def test_bulk_mismatch_skips_items_already_resolved(reviewer_client, reviewer):
    done, todo = scored_item(0.10), scored_item(0.12)
    stale = {"action": "mark_mismatch", "_selected_action": [str(done.pk), str(todo.pk)]}
    review.record_verdict(done, reviewer=reviewer, decision="match")
    response = reviewer_client.post(CHANGELIST + "?queue=all", {**stale, "post": "yes"})
    assert response.status_code == 302
    assert Verdict.objects.count() == 2
    assert Verdict.objects.get(review_item=done).decision == "match"
    assert Verdict.objects.get(review_item=todo).decision == "mismatch"
    assert any("already resolved" in message for message in messages_of(response))
