"""/api/v1/products/: CRUD, filters, ordering, pagination, permissions, bad input."""

from __future__ import annotations

import pytest

from catalog.models import Product, ProductImage
from clipanalysis import tasks
from clipanalysis.models import AnalysisResult, ReviewItem
from tests.api.conftest import MATCH_ALL, MATCH_NONE, error_of
from tests.factories import add_image, image_bytes, make_product, packshot

pytestmark = pytest.mark.django_db
URL = "/api/v1/products/"


def skus(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [product["sku"] for product in response.json()["results"]]


def test_anonymous_gets_401_in_the_error_shape(anonymous):
    response = anonymous.get(URL)
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_a_wrong_token_is_401(anonymous):
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = anonymous.get(URL)
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_session_login_reads_the_browsable_api(client, read_only_system):
    client.force_login(read_only_system)
    response = client.get(URL, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"<html" in response.content.lower()


def test_read_only_token_reads_but_cannot_write(read_only_client, analysed_product):
    product = analysed_product(sku="RO-1")
    assert skus(read_only_client.get(URL)) == ["RO-1"]
    assert read_only_client.get(f"{URL}{product.pk}/").json()["sku"] == "RO-1"

    created = read_only_client.post(URL, {"sku": "RO-2", "description": "Blue mug"})
    changed = read_only_client.patch(f"{URL}{product.pk}/", {"title": "Changed"})
    deleted = read_only_client.delete(f"{URL}{product.pk}/")

    for response in (created, changed, deleted):
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
    product.refresh_from_db()
    assert product.title != "Changed"
    assert Product.objects.count() == 1


def test_a_user_with_model_permissions_may_write(read_only_system, read_only_client):
    from django.contrib.auth.models import Permission

    read_only_system.user_permissions.add(Permission.objects.get(codename="add_product"))
    response = read_only_client.post(URL, {"sku": "P-1", "description": "Blue mug"})
    assert response.status_code == 201, response.content


def test_catalog_system_creates_a_product(catalog_client):
    response = catalog_client.post(
        URL,
        {"sku": "TS-1", "title": "Tee", "description": "Red cotton t-shirt", "category": "t-shirt"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sku"] == "TS-1"
    assert body["status"] == "no_images"
    assert body["has_open_review"] is False
    assert body["images"] == []
    assert Product.objects.get(sku="TS-1").description == "Red cotton t-shirt"


def test_unicode_description_round_trips(catalog_client):
    text = "Tasse en céramique bleue — 350 ml, 青い陶器のマグカップ 🍵"
    response = catalog_client.post(URL, {"sku": "MUG-ü", "description": text})
    assert response.status_code == 201, response.content
    assert catalog_client.get(f"{URL}{response.json()['id']}/").json()["description"] == text


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"sku": "X-1"}, "description"),
        ({"description": "Blue mug"}, "sku"),
        ({"sku": "X-1", "description": "x" * 10_000}, "description"),
        ({"sku": "X-1", "description": ["not", "text"]}, "description"),
        ({"sku": "X\x00-1", "description": "Blue mug"}, "sku"),
        ({"sku": "X-1", "description": "Blue\x00 mug"}, "description"),
        ({"sku": "   ", "description": "Blue mug"}, "sku"),
    ],
)
def test_bad_product_input_is_a_400_and_writes_nothing(catalog_client, payload, field):
    response = catalog_client.post(URL, payload, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert Product.objects.count() == 0


def test_duplicate_sku_is_a_400(catalog_client):
    make_product(sku="DUP-1")
    response = catalog_client.post(URL, {"sku": "DUP-1", "description": "Blue mug"})
    assert response.status_code == 400
    assert "sku" in error_of(response)["fields"]


def test_malformed_json_is_a_400_parse_error(catalog_client):
    response = catalog_client.generic("POST", URL, '{"sku": "X', content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_unsupported_content_type_is_a_415(catalog_client):
    response = catalog_client.generic("POST", URL, "sku=1", content_type="text/csv")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_changing_the_description_rescores_the_images(
    catalog_client, analysed_product, django_capture_on_commit_callbacks
):
    product = analysed_product("Blue ceramic mug")
    with django_capture_on_commit_callbacks(execute=True):
        response = catalog_client.patch(
            f"{URL}{product.pk}/", {"description": "Green leather backpack"}
        )
    assert response.status_code == 200, response.content
    current = AnalysisResult.objects.current().get(image__product=product)
    assert current.description == "Green leather backpack"
    assert current.status == AnalysisResult.Status.DONE
    assert AnalysisResult.objects.filter(image__product=product).count() == 2


def test_put_replaces_the_writable_fields(catalog_client):
    product = make_product("Blue mug", sku="PUT-1", category="mug")
    response = catalog_client.put(
        f"{URL}{product.pk}/", {"sku": "PUT-1", "description": "Red mug", "title": "Mug"}
    )
    assert response.status_code == 200, response.content
    product.refresh_from_db()
    assert (product.description, product.title) == ("Red mug", "Mug")


def test_delete_removes_the_product_and_its_images(catalog_client, analysed_product):
    product = analysed_product()
    response = catalog_client.delete(f"{URL}{product.pk}/")
    assert response.status_code == 204
    assert not Product.objects.exists()
    assert not ProductImage.objects.exists()


def test_unknown_product_is_a_404_in_the_error_shape(catalog_client):
    response = catalog_client.get(f"{URL}999999/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_filter_by_category_sku_and_search(catalog_client):
    make_product("Blue ceramic mug", sku="MUG-1", category="mug")
    make_product("Red cotton t-shirt", sku="TEE-1", category="t-shirt")
    make_product("Green mug with lid", sku="MUG-2", category="mug", title="Travel mug")

    assert sorted(skus(catalog_client.get(URL, {"category": "mug"}))) == ["MUG-1", "MUG-2"]
    assert skus(catalog_client.get(URL, {"sku": "TEE-1"})) == ["TEE-1"]
    assert skus(catalog_client.get(URL, {"q": "travel"})) == ["MUG-2"]
    assert skus(catalog_client.get(URL, {"q": "cotton"})) == ["TEE-1"]


def test_filter_by_status_and_open_review(
    catalog_client, analysed_product, scoring_model, settings
):
    # Scores and statuses only: the tiny random model's attribute explanations are noise,
    # and a conflict would open a review item on the passing product.
    settings.CLIP_EXPLAIN = False
    analysed_product("Red t-shirt", sku="FLAGGED", threshold=MATCH_NONE)
    analysed_product(
        "Red t-shirt",
        sku="PASSED",
        images=[image_bytes(packshot((0, 90, 200)))],
        threshold=MATCH_ALL,
    )
    make_product(sku="EMPTY")
    failed = make_product(sku="FAILED")
    broken = add_image(failed, image_bytes(packshot((90, 90, 0))))
    with open(broken.image.path, "wb") as handle:
        handle.write(b"not an image any more")
    tasks.analyse_image(AnalysisResult.objects.get(image=broken).pk)
    pending = make_product(sku="PENDING")  # after the task: not one of its batch
    add_image(pending, image_bytes(packshot((0, 160, 0))))  # not committed: never analysed

    def by_status(value):
        return skus(catalog_client.get(URL, {"status": value}))

    assert by_status("flagged") == ["FLAGGED"]
    assert by_status("passed") == ["PASSED"]
    assert by_status("no_images") == ["EMPTY"]
    assert by_status("pending") == ["PENDING"]
    assert by_status("failed") == ["FAILED"]
    listed = {p["sku"]: p["status"] for p in catalog_client.get(URL).json()["results"]}
    assert listed == {
        "FLAGGED": "flagged",
        "PASSED": "passed",
        "EMPTY": "no_images",
        "PENDING": "pending",
        "FAILED": "failed",
    }

    assert ReviewItem.objects.open().filter(image__product__sku="FLAGGED").exists()
    assert skus(catalog_client.get(URL, {"has_open_review": "true"})) == ["FLAGGED"]
    assert "FLAGGED" not in skus(catalog_client.get(URL, {"has_open_review": "false"}))


def test_filter_by_score_range(catalog_client, analysed_product):
    product = analysed_product(sku="SCORED")
    make_product(sku="UNSCORED")
    score = AnalysisResult.objects.current().get(image__product=product).similarity_score

    assert skus(catalog_client.get(URL, {"score_min": score - 0.01})) == ["SCORED"]
    assert skus(catalog_client.get(URL, {"score_min": score + 0.01})) == []
    assert skus(catalog_client.get(URL, {"score_max": score + 0.01})) == ["SCORED"]
    assert skus(
        catalog_client.get(URL, {"score_min": score - 0.01, "score_max": score + 0.01})
    ) == ["SCORED"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "shipped"}, "status"),
        ({"score_min": "abc"}, "score_min"),
        ({"score_max": "NaN"}, "score_max"),
        ({"ordering": "password"}, "ordering"),
        ({"colour": "red"}, "colour"),
        ({"q": "mug\x00"}, "q"),
    ],
)
def test_bad_query_parameters_are_a_400(catalog_client, params, field):
    response = catalog_client.get(URL, params)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid"
    assert field in error["fields"]


def test_ordering_and_default_order(catalog_client):
    for sku in ["B", "C", "A"]:
        make_product(sku=sku)
    assert skus(catalog_client.get(URL)) == ["A", "C", "B"]  # newest first
    assert skus(catalog_client.get(URL, {"ordering": "sku"})) == ["A", "B", "C"]
    assert skus(catalog_client.get(URL, {"ordering": "-sku"})) == ["C", "B", "A"]


def test_page_pagination(catalog_client):
    for index in range(5):
        make_product(sku=f"P-{index}")
    first = catalog_client.get(URL, {"page_size": 2, "ordering": "sku"}).json()
    assert first["count"] == 5
    assert [p["sku"] for p in first["results"]] == ["P-0", "P-1"]
    assert "page=2" in first["next"]
    third = catalog_client.get(URL, {"page_size": 2, "ordering": "sku", "page": 3}).json()
    assert [p["sku"] for p in third["results"]] == ["P-4"]

    beyond = catalog_client.get(URL, {"page": 9})
    assert beyond.status_code == 404
    assert error_of(beyond)["code"] == "not_found"


def test_list_query_count_does_not_grow_with_products(
    catalog_client, analysed_product, django_assert_max_num_queries
):
    for index in range(6):
        analysed_product(
            sku=f"Q-{index}",
            images=[
                image_bytes(packshot((40 * index, 30, 30))),
                image_bytes(packshot((0, 0, 40 * index))),
            ],
        )
    with django_assert_max_num_queries(6):
        response = catalog_client.get(URL)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 6
    assert all(len(p["images"]) == 2 for p in response.json()["results"])
    assert all(p["images"][0]["analysis"]["status"] == "done" for p in response.json()["results"])
