"""One API dialect: ``file`` on every upload (old names as aliases), absolute poll URLs,
``passed`` null until judged, and ``/upload`` never rewrites a product silently."""

from __future__ import annotations

import pytest

from catalog.models import Product, ProductImage
from clipanalysis.models import AnalysisResult
from tests.api.conftest import MATCH_ALL, error_of, set_threshold
from tests.factories import image_bytes, make_product, packshot, upload

RED, BLUE = (200, 30, 30), (0, 90, 200)


def seed_upload(client, data=None, query="", **fields):
    payload = {
        "file": upload(data or image_bytes(packshot(RED))),
        "description": "Red cotton t-shirt",
        **fields,
    }
    return client.post(f"/upload{query}", payload, format="multipart")


# --- one field name --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["file", "image"])
def test_seed_upload_takes_file_and_its_old_name(catalog_client, settings, name):
    settings.UPLOAD_WAIT_SECONDS = 0
    response = catalog_client.post(
        "/upload", {name: upload(), "description": "Red tee"}, format="multipart"
    )
    assert response.status_code == 202, response.content
    assert ProductImage.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["file", "image"])
def test_image_upload_and_replacement_take_file_and_its_old_name(catalog_client, name):
    product = make_product()
    created = catalog_client.post(
        "/api/v1/images/", {"product": product.pk, name: upload()}, format="multipart"
    )
    assert created.status_code == 201, created.content
    image_id = created.json()["id"]
    new = upload(image_bytes(packshot(BLUE), "PNG"), "new.png", "image/png")
    replaced = catalog_client.patch(f"/api/v1/images/{image_id}/", {name: new}, format="multipart")
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["format"] == "PNG"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["file", "files"])
def test_batch_score_takes_file_and_its_old_name(read_only_client, scoring_model, name):
    files = [upload(image_bytes(packshot(RED))), upload(image_bytes(packshot(BLUE)))]
    response = read_only_client.post(
        "/api/v1/batch-score/",
        {name: files, "descriptions": ["Red tee", "Blue mug"]},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    assert [row["index"] for row in response.json()["results"]] == [0, 1]


@pytest.mark.django_db
def test_the_new_and_the_old_name_together_are_refused(catalog_client, read_only_client):
    response = catalog_client.post(
        "/upload",
        {"file": upload(), "image": upload(), "description": "Red tee"},
        format="multipart",
    )
    assert response.status_code == 400
    assert "one name" in error_of(response)["fields"]["image"][0]
    response = read_only_client.post(
        "/api/v1/batch-score/",
        {"file": [upload()], "files": [upload()], "descriptions": ["a", "b"]},
        format="multipart",
    )
    assert response.status_code == 400
    assert "files" in error_of(response)["fields"]
    assert not ProductImage.objects.exists()


@pytest.mark.django_db
def test_errors_name_the_field_the_client_sent(catalog_client, settings):
    bad = upload(b"plain text, not an image", "notes.txt")
    response = catalog_client.post(
        "/upload", {"image": bad, "description": "Red tee"}, format="multipart"
    )
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"image"}

    settings.UPLOAD_MAX_BYTES = 1000
    response = catalog_client.post(
        "/upload", {"image": upload(), "description": "Red tee"}, format="multipart"
    )
    assert response.status_code == 413
    assert set(error_of(response)["fields"]) == {"image"}

    response = catalog_client.post("/upload", {"description": "Red tee"}, format="multipart")
    assert response.status_code == 400
    assert "file" in error_of(response)["fields"]


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "method", "alias", "required"),
    [
        ("/upload", "post", "image", True),
        ("/api/v1/images/", "post", "image", True),
        ("/api/v1/images/{id}/", "put", "image", True),
        ("/api/v1/images/{id}/", "patch", "image", False),
        ("/api/v1/batch-score/", "post", "files", True),
    ],
)
def test_the_schema_names_file_and_documents_the_old_name_as_an_alias(
    schema, path, method, alias, required
):
    body = schema["paths"][path][method]["requestBody"]["content"]["multipart/form-data"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    component = schema["components"]["schemas"][ref]
    properties = component["properties"]
    assert "file" in properties
    # One of the two names: the schema says so in words (a bare alias is not refused).
    assert properties["file"]["description"].startswith("Required") is required
    assert "file" not in component.get("required", [])
    assert properties[alias]["deprecated"] is True
    assert "Old name of `file`" in properties[alias]["description"]
    assert alias not in component.get("required", [])


# --- absolute poll_url -----------------------------------------------------------------


@pytest.mark.django_db
def test_poll_url_is_absolute_like_the_image_urls(catalog_client):
    response = seed_upload(catalog_client, query="?async=1")
    assert response.status_code == 202
    body = response.json()
    assert body["poll_url"] == f"http://testserver/api/v1/analyses/{body['analysis_id']}/"
    assert response["Location"] == body["poll_url"]
    image = catalog_client.get(f"/api/v1/images/{body['id']}/").json()
    assert image["url"].startswith("http://testserver/")
    assert catalog_client.get(body["poll_url"]).json()["id"] == body["analysis_id"]


# --- passed is null until judged ---------------------------------------------------------


@pytest.mark.django_db
def test_passed_is_null_while_pending_and_when_failed(catalog_client):
    # Without a commit the analysis never runs: it stays pending.
    body = seed_upload(catalog_client, query="?async=1").json()
    analysis = catalog_client.get(body["poll_url"]).json()
    assert analysis["status"] == "pending"
    assert analysis["passed"] is None
    assert analysis["reason"] == "Analysis pending."
    image = catalog_client.get(f"/api/v1/images/{body['id']}/").json()
    assert image["analysis"]["passed"] is None
    product = catalog_client.get(f"/api/v1/products/{image['product']}/").json()
    assert product["images"][0]["analysis"]["passed"] is None

    AnalysisResult.objects.filter(pk=body["analysis_id"]).update(
        status=AnalysisResult.Status.FAILED, error="ModelLoadError: gone"
    )
    analysis = catalog_client.get(body["poll_url"]).json()
    assert analysis["passed"] is None
    assert analysis["reason"] == "Analysis failed: ModelLoadError: gone"


@pytest.mark.django_db(transaction=True)
def test_passed_is_a_boolean_once_done(catalog_client, scoring_model):
    set_threshold(scoring_model, MATCH_ALL)
    body = seed_upload(catalog_client).json()
    assert body["status"] == "done" and body["passed"] is True


# --- /upload never rewrites a product silently -------------------------------------------


@pytest.mark.django_db(transaction=True)
class TestExistingProduct:
    def test_the_same_file_with_another_description_is_a_409_that_shows_what_exists(
        self, catalog_client
    ):
        data = image_bytes(packshot(RED))
        first = seed_upload(catalog_client, data, sku="TEE-1")
        assert first.status_code == 200
        analyses = AnalysisResult.objects.count()

        response = seed_upload(catalog_client, data, sku="TEE-1", description="Blue mug")
        assert response.status_code == 409, response.content
        error = error_of(response)
        assert error["code"] == "conflict"
        assert "'TEE-1'" in error["message"] and "?update=1" in error["message"]
        assert error["fields"] == {
            "description": ["The product has 'Red cotton t-shirt'; this upload says 'Blue mug'."]
        }
        assert Product.objects.get(sku="TEE-1").description == "Red cotton t-shirt"
        assert AnalysisResult.objects.count() == analyses

    def test_without_a_sku_the_same_file_is_the_same_product(self, catalog_client):
        data = image_bytes(packshot(RED))
        assert seed_upload(catalog_client, data).status_code == 200
        response = seed_upload(catalog_client, data, description="Blue mug")
        assert response.status_code == 409
        assert Product.objects.get().description == "Red cotton t-shirt"

    def test_another_file_for_the_sku_with_another_description_is_a_409(self, catalog_client):
        seed_upload(catalog_client, image_bytes(packshot(RED)), sku="TEE-2")
        response = seed_upload(
            catalog_client, image_bytes(packshot(BLUE)), sku="TEE-2", description="Blue mug"
        )
        assert response.status_code == 409
        assert ProductImage.objects.count() == 1

    def test_another_title_is_a_409_too(self, catalog_client):
        seed_upload(catalog_client, sku="TEE-3", title="Tee")
        response = seed_upload(catalog_client, sku="TEE-3", title="Mug")
        assert response.status_code == 409
        assert set(error_of(response)["fields"]) == {"title"}
        # No title sent: the product's stays, no conflict.
        assert seed_upload(catalog_client, sku="TEE-3").status_code == 200

    def test_update_replaces_the_description_and_rescores(self, catalog_client):
        data = image_bytes(packshot(RED))
        first = seed_upload(catalog_client, data, sku="TEE-4").json()
        response = seed_upload(
            catalog_client, data, query="?update=1", sku="TEE-4", description="Blue mug"
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["id"] == first["id"] and body["analysis_id"] != first["analysis_id"]
        assert body["description"] == "Blue mug"
        assert Product.objects.get(sku="TEE-4").description == "Blue mug"

    def test_the_same_file_and_text_again_is_simply_already_uploaded(self, catalog_client):
        data = image_bytes(packshot(RED))
        seed_upload(catalog_client, data, sku="TEE-5")
        again = seed_upload(catalog_client, data, sku="TEE-5")
        assert again.status_code == 200 and again.json()["already_uploaded"] is True
