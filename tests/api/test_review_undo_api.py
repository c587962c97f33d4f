"""/api/v1/review-items/undo/, /{id}/revise/ and /{id}/history/: undo, revise, and the record."""

from __future__ import annotations

import pytest

from clipanalysis.models import ReviewItem, Verdict, VerdictChange
from tests.api.conftest import MATCH_NONE
from tests.conftest import token_client

pytestmark = pytest.mark.django_db
ITEMS = "/api/v1/review-items/"
UNDO = f"{ITEMS}undo/"


@pytest.fixture
def open_item(analysed_product) -> ReviewItem:
    product = analysed_product("Red cotton t-shirt", sku="UNDO-1", threshold=MATCH_NONE)
    return ReviewItem.objects.open().get(image__product=product)


@pytest.fixture
def reviewer_client(reviewer):
    return token_client(reviewer)


def test_undo_retracts_the_last_verdict_and_hands_the_item_back(
    reviewer_client, reviewer, open_item
):
    assert reviewer_client.post(f"{ITEMS}{open_item.pk}/verdict/", {"decision": "mismatch"})
    response = reviewer_client.post(UNDO)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["state"], body["assigned_to"]) == (open_item.pk, "in_review", "rita")
    assert body["latest_verdict"] is None
    verdict = Verdict.objects.get()
    assert verdict.retracted_at is not None and verdict.retracted_by == reviewer
    # The item takes a verdict again: the mis-key is corrected.
    again = reviewer_client.post(f"{ITEMS}{open_item.pk}/verdict/", {"decision": "match"})
    assert again.status_code == 201, again.content
    item = reviewer_client.get(f"{ITEMS}{open_item.pk}/").json()
    assert item["latest_verdict"]["decision"] == "match"


def test_undo_with_nothing_to_undo_says_so(reviewer_client, open_item):
    response = reviewer_client.post(UNDO)
    assert response.status_code == 400
    assert "no verdict to undo" in response.content.decode()


def test_undo_and_revise_need_the_verdict_permission(read_only_client, reviewer, open_item):
    token_client(reviewer).post(f"{ITEMS}{open_item.pk}/verdict/", {"decision": "match"})
    assert read_only_client.post(UNDO).status_code == 403
    revise = read_only_client.post(
        f"{ITEMS}{open_item.pk}/revise/", {"decision": "mismatch", "reason": "wrong colour"}
    )
    assert revise.status_code == 403
    assert Verdict.objects.standing().get().decision == "match"
    # Reading the history is a read: allowed.
    assert read_only_client.get(f"{ITEMS}{open_item.pk}/history/").status_code == 200


def test_revise_needs_a_reason_and_a_different_decision(reviewer_client, open_item):
    url = f"{ITEMS}{open_item.pk}/revise/"
    assert reviewer_client.post(url, {"decision": "mismatch", "reason": "x"}).status_code == 400
    reviewer_client.post(f"{ITEMS}{open_item.pk}/verdict/", {"decision": "match"})
    assert reviewer_client.post(url, {"decision": "mismatch"}).status_code == 400
    assert reviewer_client.post(url, {"decision": "mismatch", "reason": "  "}).status_code == 400
    assert reviewer_client.post(url, {"decision": "match", "reason": "same"}).status_code == 400
    response = reviewer_client.post(url, {"decision": "mismatch", "reason": "it is blue"})
    assert response.status_code == 201, response.content
    assert (response.json()["decision"], response.json()["comment"]) == ("mismatch", "it is blue")
    item = reviewer_client.get(f"{ITEMS}{open_item.pk}/").json()
    assert item["latest_verdict"]["decision"] == "mismatch"


def test_history_lists_every_change_newest_first(reviewer_client, open_item):
    reviewer_client.post(f"{ITEMS}{open_item.pk}/verdict/", {"decision": "mismatch"})
    reviewer_client.post(UNDO)
    reviewer_client.post(f"{ITEMS}{open_item.pk}/verdict/", {"decision": "match"})
    reviewer_client.post(
        f"{ITEMS}{open_item.pk}/revise/", {"decision": "bad_image", "reason": "too dark"}
    )
    response = reviewer_client.get(f"{ITEMS}{open_item.pk}/history/")
    assert response.status_code == 200, response.content
    rows = [(c["action"], c["before"], c["after"], c["changed_by"]) for c in response.json()]
    assert rows == [
        ("revised", "match", "bad_image", "rita"),
        ("recorded", "", "match", "rita"),
        ("undone", "mismatch", "", "rita"),
        ("recorded", "", "mismatch", "rita"),
    ]
    assert response.json()[0]["reason"] == "too dark"
    assert VerdictChange.objects.count() == 4


def test_the_schema_documents_undo_revise_and_history():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert "post" in schema["paths"]["/api/v1/review-items/undo/"]
    assert "post" in schema["paths"]["/api/v1/review-items/{id}/revise/"]
    assert "get" in schema["paths"]["/api/v1/review-items/{id}/history/"]
