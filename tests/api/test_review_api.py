"""/api/v1/review-items/ and /api/v1/verdicts/: the queue, recording verdicts, corrections."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from catalog.models import Product
from clipanalysis.models import ReviewItem, Verdict
from tests.api.conftest import MATCH_NONE, error_of
from tests.conftest import token_client
from tests.factories import image_bytes, packshot

pytestmark = pytest.mark.django_db
ITEMS = "/api/v1/review-items/"
VERDICTS = "/api/v1/verdicts/"


@pytest.fixture
def open_item(analysed_product) -> ReviewItem:
    product = analysed_product("Red cotton t-shirt", sku="REV-1", threshold=MATCH_NONE)
    return ReviewItem.objects.open().get(image__product=product)


@pytest.fixture
def reviewer_client(reviewer):
    return token_client(reviewer)


def test_queue_lists_open_items_with_their_reasons(read_only_client, open_item):
    response = read_only_client.get(ITEMS, {"is_open": "true"})
    assert response.status_code == 200, response.content
    [item] = response.json()["results"]
    assert item["id"] == open_item.pk
    assert item["sku"] == "REV-1"
    assert item["state"] == "open"
    assert item["primary_reason"] == "mismatch"
    assert "mismatch" in item["reasons"]
    assert item["latest_verdict"] is None
    assert item["description"] == "Red cotton t-shirt"


def test_reviewer_records_a_verdict(reviewer_client, reviewer, open_item):
    response = reviewer_client.post(
        f"{ITEMS}{open_item.pk}/verdict/",
        {"decision": "match", "comment": "It is a t-shirt"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["decision"], body["reviewer"], body["review_item"]) == (
        "match",
        "rita",
        open_item.pk,
    )
    verdict = Verdict.objects.get()
    assert verdict.reviewer == reviewer
    open_item.refresh_from_db()
    assert open_item.state == ReviewItem.State.RESOLVED
    item = reviewer_client.get(f"{ITEMS}{open_item.pk}/").json()
    assert item["latest_verdict"]["id"] == verdict.pk


def test_second_verdict_on_a_resolved_item_is_a_409(reviewer_client, open_item):
    url = f"{ITEMS}{open_item.pk}/verdict/"
    assert reviewer_client.post(url, {"decision": "mismatch"}).status_code == 201
    response = reviewer_client.post(url, {"decision": "match"})
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "conflict"
    assert "already resolved" in error["message"]
    assert Verdict.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "decision"),
        ({"decision": "maybe"}, "decision"),
        ({"decision": "match", "comment": "x" * 2001}, "comment"),
        ({"decision": "match", "comment": "ok\x00"}, "comment"),
    ],
)
def test_bad_verdicts_are_a_400_and_record_nothing(reviewer_client, open_item, payload, field):
    response = reviewer_client.post(f"{ITEMS}{open_item.pk}/verdict/", payload)
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    assert not Verdict.objects.exists()


def test_catalog_systems_and_read_only_tokens_cannot_record_verdicts(
    catalog_client, read_only_client, open_item
):
    for client in (catalog_client, read_only_client):
        response = client.post(f"{ITEMS}{open_item.pk}/verdict/", {"decision": "match"})
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
    assert not Verdict.objects.exists()


def test_the_review_permission_is_enough_without_staff(open_item):
    user = User.objects.create_user("temp-reviewer")
    user.user_permissions.add(Permission.objects.get(codename="review_item"))
    response = token_client(user).post(f"{ITEMS}{open_item.pk}/verdict/", {"decision": "bad_image"})
    assert response.status_code == 201, response.content


def test_verdict_on_an_unknown_item_is_a_404(reviewer_client, db):
    response = reviewer_client.post(f"{ITEMS}424242/verdict/", {"decision": "match"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_correcting_the_description_updates_the_product_and_rescores(
    reviewer_client, open_item, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer_client.post(
            f"{ITEMS}{open_item.pk}/correct-description/",
            {"text": "Blue ceramic mug", "comment": "Wrong text"},
        )
    assert response.status_code == 201, response.content
    assert response.json()["decision"] == "mismatch"
    assert response.json()["corrected_description"] == "Blue ceramic mug"
    product = Product.objects.get(sku="REV-1")
    assert product.description == "Blue ceramic mug"
    current = product.images.get().analyses.current().get()
    assert current.description == "Blue ceramic mug"


def test_correcting_with_the_scored_text_is_a_400(reviewer_client, open_item):
    response = reviewer_client.post(
        f"{ITEMS}{open_item.pk}/correct-description/", {"text": "Red cotton t-shirt"}
    )
    assert response.status_code == 400
    assert "scored" in error_of(response)["message"]


def test_verdict_list_filters(reviewer_client, reviewer, analysed_product):
    items = []
    for index, colour in enumerate([(200, 30, 30), (0, 90, 200), (0, 200, 0)]):
        product = analysed_product(
            sku=f"V-{index}", images=[image_bytes(packshot(colour))], threshold=MATCH_NONE
        )
        items.append(ReviewItem.objects.open().get(image__product=product))
    for item, decision in zip(items, ["match", "mismatch", "mismatch"], strict=True):
        reviewer_client.post(f"{ITEMS}{item.pk}/verdict/", {"decision": decision})

    def decisions(params):
        response = reviewer_client.get(VERDICTS, params)
        assert response.status_code == 200, response.content
        return sorted(v["decision"] for v in response.json()["results"])

    assert decisions({}) == ["match", "mismatch", "mismatch"]
    assert decisions({"decision": "mismatch"}) == ["mismatch", "mismatch"]
    assert decisions({"review_item": items[0].pk}) == ["match"]
    assert decisions({"reviewer": "rita"}) == ["match", "mismatch", "mismatch"]
    assert decisions({"reviewer": "nobody"}) == []
    assert decisions({"q": "V-1"}) == ["mismatch"]
    assert reviewer_client.get(VERDICTS, {"decision": "perhaps"}).status_code == 400
    assert reviewer_client.get(ITEMS, {"is_open": "false"}).json()["count"] == 3
    assert reviewer_client.get(ITEMS, {"state": "resolved", "sku": "V-2"}).json()["count"] == 1


def test_verdicts_are_read_only(reviewer_client, db):
    assert reviewer_client.post(VERDICTS, {"decision": "match"}).status_code == 405


def test_list_query_counts_are_constant(
    reviewer_client, analysed_product, django_assert_max_num_queries
):
    for index in range(5):
        product = analysed_product(
            sku=f"QC-{index}",
            images=[image_bytes(packshot((200, 40 * index, 30)))],
            threshold=MATCH_NONE,
        )
        item = ReviewItem.objects.open().get(image__product=product)
        reviewer_client.post(f"{ITEMS}{item.pk}/verdict/", {"decision": "mismatch"})
    with django_assert_max_num_queries(4):
        items = reviewer_client.get(ITEMS)
    with django_assert_max_num_queries(3):
        verdicts = reviewer_client.get(VERDICTS)
    assert items.json()["count"] == 5
    assert all(item["latest_verdict"] for item in items.json()["results"])
    assert verdicts.json()["count"] == 5
