"""/api/v1/analyses/: read-only results with filters by model version, match and quality."""

from __future__ import annotations

import pytest

from clipanalysis.models import AnalysisResult
from tests.api.conftest import MATCH_ALL, MATCH_NONE, error_of
from tests.factories import image_bytes, packshot

pytestmark = pytest.mark.django_db
URL = "/api/v1/analyses/"


def ids(client, params=None) -> list[int]:
    response = client.get(URL, params or {})
    assert response.status_code == 200, response.content
    return [result["id"] for result in response.json()["results"]]


def current_result(product) -> AnalysisResult:
    return AnalysisResult.objects.current().get(image__product=product)


def test_result_carries_scores_quality_and_the_seed_fields(read_only_client, analysed_product):
    result = current_result(analysed_product(threshold=MATCH_NONE))
    body = read_only_client.get(f"{URL}{result.pk}/").json()
    assert body["status"] == "done"
    assert body["is_match"] is False
    assert body["passed"] is False
    assert body["reason"].startswith("Image does not match the description")
    assert body["status_text"] == result.status_text
    assert body["model_version"] == result.model_version.version
    assert body["min_side"] == 640
    for name in ("blur_score", "brightness_score", "contrast_score", "aspect_ratio"):
        assert isinstance(body[name], float)


def test_analyses_are_read_only(catalog_client, analysed_product):
    result = current_result(analysed_product())
    assert catalog_client.post(URL, {}).status_code == 405
    response = catalog_client.delete(f"{URL}{result.pk}/")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_filter_by_match_quality_and_model_version(
    read_only_client, analysed_product, scoring_model
):
    match = current_result(analysed_product(threshold=MATCH_ALL))
    mismatch = current_result(
        analysed_product(images=[image_bytes(packshot((0, 90, 200)))], threshold=MATCH_NONE)
    )
    small = current_result(
        analysed_product(
            images=[image_bytes(packshot((0, 200, 0), size=(200, 200)))], threshold=MATCH_ALL
        )
    )

    assert sorted(ids(read_only_client, {"is_match": "true"})) == sorted([match.pk, small.pk])
    assert ids(read_only_client, {"is_match": "false"}) == [mismatch.pk]
    assert ids(read_only_client, {"quality_passed": "false"}) == [small.pk]
    assert small.quality_failures == ["resolution"]
    assert len(ids(read_only_client, {"model_version": scoring_model.version})) == 3
    assert ids(read_only_client, {"model_version": "no-such-model"}) == []
    assert len(ids(read_only_client, {"status": "done", "is_current": "true"})) == 3
    assert ids(read_only_client, {"product": match.image.product_id}) == [match.pk]
    assert ids(read_only_client, {"image": small.image_id}) == [small.pk]

    body = read_only_client.get(f"{URL}{small.pk}/").json()
    assert body["passed"] is False
    assert "Resolution too low (200; needs >= 500 px)" in body["reason"]


def test_history_is_kept_and_is_current_filters_it(
    catalog_client, analysed_product, django_capture_on_commit_callbacks
):
    product = analysed_product("Blue mug")
    old = current_result(product)
    with django_capture_on_commit_callbacks(execute=True):
        catalog_client.patch(f"/api/v1/products/{product.pk}/", {"description": "Red mug"})
    new = current_result(product)
    assert ids(catalog_client, {"product": product.pk, "is_current": "false"}) == [old.pk]
    assert ids(catalog_client, {"product": product.pk, "is_current": "true"}) == [new.pk]
    assert ids(catalog_client, {"product": product.pk, "ordering": "created_at"}) == [
        old.pk,
        new.pk,
    ]


def test_score_range_and_search(read_only_client, analysed_product):
    result = current_result(analysed_product("Striped lamp shade", sku="LAMP-7"))
    score = result.similarity_score
    assert ids(read_only_client, {"score_min": score - 0.01, "score_max": score + 0.01}) == [
        result.pk
    ]
    assert ids(read_only_client, {"score_min": score + 0.01}) == []
    assert ids(read_only_client, {"q": "lamp-7"}) == [result.pk]
    assert ids(read_only_client, {"q": "striped"}) == [result.pk]


@pytest.mark.parametrize(
    "params",
    [{"status": "finished"}, {"is_match": "perhaps"}, {"image": "x"}, {"limit": "5"}],
)
def test_bad_filters_are_a_400(read_only_client, params):
    response = read_only_client.get(URL, params)
    assert response.status_code == 400, response.content
    assert set(params) <= set(error_of(response)["fields"])


def test_list_query_count_is_constant(
    read_only_client, analysed_product, django_assert_max_num_queries
):
    for index in range(5):
        analysed_product(sku=f"A-{index}", images=[image_bytes(packshot((0, 50 * index, 0)))])
    with django_assert_max_num_queries(3):
        response = read_only_client.get(URL)
    assert len(response.json()["results"]) == 5
