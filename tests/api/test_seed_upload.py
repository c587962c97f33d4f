"""POST /upload: the seed's endpoint and answer shape, in sync and async modes."""

from __future__ import annotations

import hashlib
import os

import pytest
from PIL import Image

from catalog.models import Product, ProductImage
from clipanalysis.models import AnalysisResult
from tests.api.conftest import MATCH_ALL, MATCH_NONE, error_of, set_threshold
from tests.factories import image_bytes, packshot, upload

URL = "/upload"
SEED_FIELDS = {
    "id",
    "filename",
    "width",
    "height",
    "passed",
    "reason",
    "description",
    "clip_similarity_score",
    "clip_match_status",
    "clip_is_match",
    "blur_score",
    "brightness_score",
    "contrast_score",
    "aspect_ratio",
    "min_side",
    "is_grayscale",
    "quality_passed",
    "quality_failures",
}


def post_upload(client, data: bytes | None = None, name="photo.jpg", query="", **fields):
    payload = {"file": upload(data, name), "description": "Red cotton t-shirt", **fields}
    return client.post(f"{URL}{query}", payload, format="multipart")


def nothing_written(settings) -> bool:
    files = [f for _, _, names in os.walk(settings.MEDIA_ROOT) for f in names]
    return not (Product.objects.exists() or ProductImage.objects.exists() or files)


@pytest.mark.django_db(transaction=True)
class TestSync:
    def test_waits_and_answers_200_in_the_seed_shape(self, catalog_client, scoring_model):
        set_threshold(scoring_model, MATCH_ALL)
        response = post_upload(catalog_client, sku="SEED-1", title="Tee")
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) >= SEED_FIELDS
        image = ProductImage.objects.get(pk=body["id"])
        assert (body["filename"], body["width"], body["height"]) == ("photo.jpg", 640, 640)
        assert body["description"] == "Red cotton t-shirt"
        assert body["sku"] == "SEED-1" and image.product.title == "Tee"
        assert body["status"] == "done"
        assert body["clip_is_match"] is True
        assert body["passed"] is True and body["reason"] == "All checks passed."
        assert body["clip_match_status"] == f"Match (score: {body['clip_similarity_score']:.3f})"
        assert body["already_uploaded"] is False
        result = AnalysisResult.objects.get(pk=body["analysis_id"])
        assert result.image == image and result.status == AnalysisResult.Status.DONE

    def test_a_mismatch_is_not_passed_and_says_why(self, catalog_client, scoring_model):
        set_threshold(scoring_model, MATCH_NONE)
        body = post_upload(catalog_client).json()
        assert body["passed"] is False
        assert body["clip_is_match"] is False
        assert "does not match the description" in body["reason"]

    def test_without_sku_the_product_is_keyed_by_content_hash(self, catalog_client):
        data = image_bytes(packshot())
        body = post_upload(catalog_client, data).json()
        assert body["sku"] == f"img-{hashlib.sha256(data).hexdigest()[:16]}"

    def test_the_same_image_twice_is_not_analysed_twice(self, catalog_client):
        data = image_bytes(packshot())
        first = post_upload(catalog_client, data, sku="TWICE").json()
        second = post_upload(catalog_client, data, name="copy.jpg", sku="TWICE").json()
        assert second["already_uploaded"] is True
        assert (second["id"], second["analysis_id"]) == (first["id"], first["analysis_id"])
        assert ProductImage.objects.count() == 1
        assert AnalysisResult.objects.count() == 1

    def test_a_new_description_with_update_rescores_the_same_image(self, catalog_client):
        data = image_bytes(packshot())
        first = post_upload(catalog_client, data, sku="DESC").json()
        second = post_upload(
            catalog_client, data, query="?update=1", sku="DESC", description="Blue mug"
        ).json()
        assert second["id"] == first["id"]
        assert second["analysis_id"] != first["analysis_id"]
        assert second["description"] == "Blue mug"
        assert Product.objects.get(sku="DESC").description == "Blue mug"

    def test_async_answers_202_with_a_url_to_poll(self, catalog_client):
        response = post_upload(catalog_client, query="?async=1", sku="ASYNC")
        assert response.status_code == 202, response.content
        body = response.json()
        assert body["poll_url"] == f"http://testserver/api/v1/analyses/{body['analysis_id']}/"
        assert response["Location"] == body["poll_url"]
        assert body["status"] in {"pending", "running", "done"}
        polled = catalog_client.get(body["poll_url"])
        assert polled.status_code == 200
        assert polled.json()["image"] == body["id"]
        assert polled.json()["status"] == "done"  # the worker runs inline in tests

    def test_unicode_and_long_descriptions(self, catalog_client, settings):
        text = "Mug en céramique — 青いマグカップ 🍵 " * 3
        assert post_upload(catalog_client, description=text).json()["description"] == text.strip()

        response = post_upload(catalog_client, description="x" * 10_000, sku="LONG")
        assert response.status_code == 400
        assert "description" in error_of(response)["fields"]
        assert not Product.objects.filter(sku="LONG").exists()


@pytest.mark.django_db
def test_when_the_wait_runs_out_the_answer_is_202(catalog_client, settings):
    # Without a commit the analysis never runs: the wait must give up.
    settings.UPLOAD_WAIT_SECONDS = 0.3
    response = post_upload(catalog_client)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert AnalysisResult.objects.get(pk=body["analysis_id"]).status == "pending"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"file": None}, 400, "file"),
        ({"description": None}, 400, "description"),
        ({"data": b""}, 400, "file"),
        ({"data": b"GIF89a but not really", "name": "x.gif"}, 400, "file"),
        ({"data": b"plain text, not an image", "name": "notes.txt"}, 400, "file"),
        ({"description": "x" * 10_000}, 400, "description"),
        ({"description": "red\x00shirt"}, 400, "description"),
        ({"sku": "A" * 65}, 400, "sku"),
        ({"query": "?async=maybe"}, 400, "async"),
        ({"query": "?debug=1"}, 400, "debug"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_writes_nothing(
    catalog_client, settings, change, status, field
):
    payload = {"file": upload(change.get("data"), change.get("name", "photo.jpg"))}
    payload["description"] = change.get("description", "Red cotton t-shirt")
    if "sku" in change:
        payload["sku"] = change["sku"]
    payload = {k: v for k, v in payload.items() if change.get(k, "") is not None}
    response = catalog_client.post(f"{URL}{change.get('query', '')}", payload, format="multipart")
    assert response.status_code == status, response.content
    assert field in error_of(response)["fields"]
    assert nothing_written(settings)


@pytest.mark.django_db
def test_images_over_the_pixel_limit_are_a_400(catalog_client, settings):
    settings.MAX_IMAGE_PIXELS = 300 * 300
    response = post_upload(catalog_client, image_bytes(Image.new("RGB", (301, 300), "red"), "PNG"))
    assert response.status_code == 400
    assert "limit" in error_of(response)["fields"]["file"][0]
    assert nothing_written(settings)


@pytest.mark.django_db
def test_files_over_the_byte_limit_are_a_413(catalog_client, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    response = post_upload(catalog_client)
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "payload_too_large" and "file" in error["fields"]
    assert nothing_written(settings)


@pytest.mark.django_db
def test_a_dot_dot_file_name_is_only_a_display_name(catalog_client, settings):
    settings.UPLOAD_WAIT_SECONDS = 0
    response = post_upload(catalog_client, name="../../../tmp/evil.jpg")
    assert response.status_code == 202
    image = ProductImage.objects.get()
    assert image.original_filename == "evil.jpg"
    assert ".." not in image.image.name and image.image.name.startswith("products/")


@pytest.mark.django_db
def test_json_is_a_415(catalog_client, settings):
    response = catalog_client.post(URL, {"description": "Red"}, format="json")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"
    assert nothing_written(settings)


@pytest.mark.django_db
def test_auth_is_required_and_read_only_tokens_may_not_upload(
    anonymous, read_only_client, settings
):
    assert post_upload(anonymous).status_code == 401
    response = post_upload(read_only_client)
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert nothing_written(settings)


@pytest.mark.django_db
def test_an_oversized_body_is_refused_before_it_is_read(catalog_client, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    data = image_bytes(Image.effect_noise((700, 700), 100).convert("RGB"), "PNG")
    assert len(data) > 256 * 1024 + 1000
    response = post_upload(catalog_client, data)
    assert response.status_code == 413
    error = error_of(response)
    assert error["message"].startswith("The request body is")
    assert error["fields"] == {}
    assert nothing_written(settings)
