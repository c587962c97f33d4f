"""/api/v1/images/: multipart upload, list, retrieve, delete; bad files change nothing."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from catalog.models import ProductImage
from clipanalysis.models import AnalysisResult
from tests.api.conftest import error_of
from tests.factories import add_image, image_bytes, make_product, packshot, upload

pytestmark = pytest.mark.django_db
URL = "/api/v1/images/"


def post_image(client, product, data: bytes | None = None, name: str = "photo.jpg", **extra):
    payload = {"product": product.pk, "file": upload(data, name), **extra}
    return client.post(URL, payload, format="multipart")


def stored_files(settings) -> list[str]:
    root = settings.MEDIA_ROOT
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]


def test_upload_stores_the_image_and_analyses_it(
    catalog_client, django_capture_on_commit_callbacks
):
    product = make_product("Red cotton t-shirt")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_image(catalog_client, product, image_bytes(packshot(size=(800, 600))))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["product"] == product.pk
    assert (body["width"], body["height"], body["format"]) == (800, 600, "JPEG")
    assert body["url"].startswith("http://testserver/media/products/")
    assert body["original_filename"] == "photo.jpg"
    image = ProductImage.objects.get(pk=body["id"])
    assert len(image.content_hash) == 64
    result = AnalysisResult.objects.current().get(image=image)
    assert result.status == AnalysisResult.Status.DONE
    assert catalog_client.get(f"{URL}{image.pk}/").json()["analysis"]["id"] == result.pk


def test_same_file_twice_on_a_product_is_stored_once(catalog_client):
    product = make_product()
    data = image_bytes(packshot())
    first = post_image(catalog_client, product, data)
    second = post_image(catalog_client, product, data, name="again.jpg")
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert ProductImage.objects.count() == 1
    assert AnalysisResult.objects.count() == 1


def test_directory_parts_in_the_file_name_never_reach_the_disk(catalog_client, settings):
    product = make_product()
    response = post_image(catalog_client, product, name="../../etc/passwd.jpg")
    assert response.status_code == 201, response.content
    assert response.json()["original_filename"] == "passwd.jpg"
    image = ProductImage.objects.get()
    assert image.image.name.startswith("products/")
    assert ".." not in image.image.name
    assert all(path.startswith(str(settings.MEDIA_ROOT)) for path in stored_files(settings))


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.jpg", "empty"),
        (b"%PDF-1.4 not an image", "doc.pdf", "not an image"),
        (image_bytes(packshot())[:200], "cut.jpg", ""),
    ],
)
def test_bad_files_are_a_400_and_write_nothing(catalog_client, settings, data, name, message):
    product = make_product()
    response = post_image(catalog_client, product, data, name)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert "file" in error["fields"]
    assert message in " ".join(error["fields"]["file"]).lower()
    assert not ProductImage.objects.exists()
    assert not AnalysisResult.objects.exists()
    assert stored_files(settings) == []


def test_an_image_over_the_pixel_limit_is_a_400(catalog_client, settings):
    settings.MAX_IMAGE_PIXELS = 100 * 100
    product = make_product()
    response = post_image(catalog_client, product, image_bytes(Image.new("RGB", (101, 100))))
    assert response.status_code == 400
    assert "pixels" in error_of(response)["fields"]["file"][0]
    assert not ProductImage.objects.exists()


def test_a_file_over_the_byte_limit_is_a_413(catalog_client, settings):
    data = image_bytes(packshot())
    settings.UPLOAD_MAX_BYTES = len(data) - 1
    product = make_product()
    response = post_image(catalog_client, product, data)
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "payload_too_large"
    assert "file" in error["fields"]
    assert not ProductImage.objects.exists()


def test_missing_fields_and_unknown_product_are_a_400(catalog_client):
    response = catalog_client.post(URL, {}, format="multipart")
    assert response.status_code == 400
    assert {"product", "file"} <= set(error_of(response)["fields"])

    response = catalog_client.post(URL, {"product": 999, "image": upload()}, format="multipart")
    assert response.status_code == 400
    assert "product" in error_of(response)["fields"]


def test_json_is_a_415_for_uploads(catalog_client):
    product = make_product()
    response = catalog_client.post(URL, {"product": product.pk, "image": "abc"}, format="json")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_read_only_token_cannot_upload_or_delete(read_only_client):
    product = make_product()
    image = add_image(product)
    assert post_image(read_only_client, product).status_code == 403
    assert read_only_client.delete(f"{URL}{image.pk}/").status_code == 403
    assert ProductImage.objects.count() == 1


def test_delete_removes_the_image(catalog_client):
    image = add_image(make_product())
    response = catalog_client.delete(f"{URL}{image.pk}/")
    assert response.status_code == 204
    assert not ProductImage.objects.exists()


def test_list_filters_by_product_and_sku(catalog_client):
    mug, tee = make_product(sku="MUG"), make_product(sku="TEE")
    mug_image = add_image(mug, image_bytes(packshot((0, 0, 200))), name="mug-front.jpg")
    add_image(tee, image_bytes(packshot((200, 0, 0))))

    def ids(params):
        response = catalog_client.get(URL, params)
        assert response.status_code == 200, response.content
        return [image["id"] for image in response.json()["results"]]

    assert ids({"product": mug.pk}) == [mug_image.pk]
    assert ids({"sku": "MUG"}) == [mug_image.pk]
    assert ids({"q": "front"}) == [mug_image.pk]
    assert ids({"content_hash": mug_image.content_hash}) == [mug_image.pk]
    assert len(ids({})) == 2
    assert catalog_client.get(URL, {"product": "1.5"}).status_code == 400


def test_list_query_count_is_constant(
    catalog_client, analysed_product, django_assert_max_num_queries
):
    for index in range(5):
        analysed_product(sku=f"I-{index}", images=[image_bytes(packshot((50 * index, 0, 0)))])
    with django_assert_max_num_queries(5):
        response = catalog_client.get(URL)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 5
