"""POST /api/v1/batch-score/: score pairs with the active model, store nothing."""

from __future__ import annotations

import pytest

from catalog.models import Product, ProductImage
from clipanalysis.models import AnalysisResult
from tests.api.conftest import MATCH_ALL, MATCH_NONE, error_of, set_threshold
from tests.factories import image_bytes, packshot, upload

pytestmark = pytest.mark.django_db
URL = "/api/v1/batch-score/"


def post_batch(client, files, descriptions):
    return client.post(URL, {"file": files, "descriptions": descriptions}, format="multipart")


def nothing_stored() -> bool:
    return not (
        Product.objects.exists() or ProductImage.objects.exists() or AnalysisResult.objects.exists()
    )


def test_scores_each_pair_in_order(read_only_client, scoring_model):
    set_threshold(scoring_model, MATCH_ALL)
    files = [
        upload(image_bytes(packshot((200, 30, 30))), "red.jpg"),
        upload(image_bytes(packshot((0, 200, 0), size=(300, 200))), "small.jpg"),
    ]
    response = post_batch(read_only_client, files, ["Red t-shirt", "Green mug"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model_version"] == scoring_model.version
    assert body["threshold"] == MATCH_ALL
    first, second = body["results"]
    assert (first["index"], first["filename"], first["description"]) == (
        0,
        "red.jpg",
        "Red t-shirt",
    )
    assert (second["width"], second["height"]) == (300, 200)
    assert first["passed"] is True and first["reason"] == "All checks passed."
    assert second["quality_failures"] == ["resolution"]
    assert second["passed"] is False and "Resolution too low" in second["reason"]
    assert 0.0 <= first["similarity_score"] <= 1.0
    assert nothing_stored()


def test_scores_agree_with_the_stored_pipeline(read_only_client, analysed_product, scoring_model):
    set_threshold(scoring_model, MATCH_NONE)
    data = image_bytes(packshot())
    product = analysed_product("Red cotton t-shirt", images=[data])
    stored = AnalysisResult.objects.current().get(image__product=product)
    body = post_batch(read_only_client, [upload(data)], ["Red cotton t-shirt"]).json()
    assert body["results"][0]["similarity_score"] == pytest.approx(
        stored.similarity_score, abs=1e-5
    )
    assert body["results"][0]["is_match"] is False


def test_more_than_the_limit_is_a_400(read_only_client, settings):
    settings.BATCH_MAX_ITEMS = 2
    files = [upload(image_bytes(packshot((60 * i, 30, 30)))) for i in range(3)]
    response = post_batch(read_only_client, files, ["a", "b", "c"])
    assert response.status_code == 400
    assert "at most 2" in error_of(response)["fields"]["file"][0]


def test_unpaired_descriptions_are_a_400(read_only_client, scoring_model):
    response = post_batch(read_only_client, [upload()], ["a", "b"])
    assert response.status_code == 400
    assert "descriptions" in error_of(response)["fields"]


def test_a_bad_item_names_its_position(read_only_client, scoring_model):
    files = [upload(), upload(b"", "empty.jpg"), upload(b"not an image", "x.png")]
    response = post_batch(read_only_client, files, ["a", "b", "c"])
    assert response.status_code == 400
    fields = error_of(response)["fields"]["file"]
    assert set(fields) == {"1", "2"}
    assert nothing_stored()


def test_missing_fields_and_json_bodies(read_only_client):
    response = read_only_client.post(URL, {}, format="multipart")
    assert response.status_code == 400
    assert {"file", "descriptions"} <= set(error_of(response)["fields"])
    assert read_only_client.post(URL, {"files": []}, format="json").status_code == 415


def test_anonymous_is_401(anonymous):
    assert post_batch(anonymous, [upload()], ["a"]).status_code == 401
