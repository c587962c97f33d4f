"""Every change of an image's bytes is a new analysis, whatever the surface (issue 16 #1).

Admin change form, API PUT and PATCH, the seed ``/upload``, and the ORM save
every command uses: hash, size and format come from the new bytes, the old
result stops being current, the new one is scored and its review item follows.
"""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from catalog.models import ProductImage
from clipanalysis.models import AnalysisResult, ReviewItem
from tests.api.conftest import MATCH_NONE, set_threshold
from tests.factories import add_image, image_bytes, make_product, packshot, upload

pytestmark = pytest.mark.django_db(transaction=True)

OLD = image_bytes(packshot((200, 30, 30), size=(640, 640)), "JPEG")
NEW = image_bytes(packshot((20, 30, 200), size=(700, 500)), "PNG")


@pytest.fixture
def flagged_image(scoring_model) -> ProductImage:
    """An analysed image whose result opened a review item (nothing matches)."""
    set_threshold(scoring_model, MATCH_NONE)
    image = add_image(make_product("Red cotton t-shirt"), OLD)
    old = AnalysisResult.objects.current().get(image=image)
    assert old.status == AnalysisResult.Status.DONE
    assert ReviewItem.objects.open().get(image=image).result == old
    return image


def assert_reanalysed(image: ProductImage, old_result: AnalysisResult) -> None:
    image.refresh_from_db()
    assert image.content_hash == hashlib.sha256(NEW).hexdigest()
    assert (image.width, image.height, image.format) == (700, 500, "PNG")
    assert image.image.name.endswith(".png")
    assert image.image.read() == NEW
    old_result.refresh_from_db()
    assert old_result.is_current is False
    new = AnalysisResult.objects.current().get(image=image)
    assert new.pk != old_result.pk
    assert new.image_hash == image.content_hash
    assert new.status == AnalysisResult.Status.DONE
    assert new.similarity_score is not None
    assert ReviewItem.objects.open().get(image=image).result == new


def test_admin_change_form(flagged_image, admin_user):
    old = AnalysisResult.objects.current().get(image=flagged_image)
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:catalog_productimage_change", args=[flagged_image.pk]),
        {"product": flagged_image.product_id, "image": upload(NEW, "swapped.png", "image/png")},
    )
    assert response.status_code == 302, response.content[:2000]
    assert_reanalysed(flagged_image, old)
    flagged_image.refresh_from_db()
    assert flagged_image.original_filename == "swapped.png"


def test_admin_product_inline(flagged_image, admin_user):
    """The image inline on the product's page is a surface too."""
    old = AnalysisResult.objects.current().get(image=flagged_image)
    product = flagged_image.product
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        {
            "sku": product.sku,
            "title": product.title,
            "description": product.description,
            "category": product.category,
            "images-TOTAL_FORMS": "1",
            "images-INITIAL_FORMS": "1",
            "images-MIN_NUM_FORMS": "0",
            "images-MAX_NUM_FORMS": "1000",
            "images-0-id": str(flagged_image.pk),
            "images-0-product": str(product.pk),
            "images-0-image": upload(NEW, "swapped.png", "image/png"),
        },
    )
    assert response.status_code == 302, response.content[:3000]
    assert_reanalysed(flagged_image, old)


@pytest.mark.parametrize("method", ["put", "patch"])
def test_api_put_and_patch(flagged_image, catalog_client, method):
    old = AnalysisResult.objects.current().get(image=flagged_image)
    payload = {"image": upload(NEW, "swapped.png", "image/png")}
    if method == "put":
        payload["product"] = flagged_image.product_id
    response = getattr(catalog_client, method)(
        f"/api/v1/images/{flagged_image.pk}/", payload, format="multipart"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["width"], body["height"], body["format"]) == (700, 500, "PNG")
    assert body["content_hash"] == hashlib.sha256(NEW).hexdigest()
    assert body["analysis"]["id"] != old.pk
    assert_reanalysed(flagged_image, old)


def test_api_replacement_with_bytes_another_image_has_is_a_409(flagged_image, catalog_client):
    add_image(flagged_image.product, NEW)
    response = catalog_client.patch(
        f"/api/v1/images/{flagged_image.pk}/",
        {"image": upload(NEW, "twin.png", "image/png")},
        format="multipart",
    )
    assert response.status_code == 409, response.content
    flagged_image.refresh_from_db()
    assert flagged_image.content_hash == hashlib.sha256(OLD).hexdigest()


def test_api_replacement_needs_the_change_permission(flagged_image, reviewer):
    from tests.conftest import token_client

    response = token_client(reviewer).patch(
        f"/api/v1/images/{flagged_image.pk}/",
        {"image": upload(NEW, "swapped.png", "image/png")},
        format="multipart",
    )
    assert response.status_code == 403
    flagged_image.refresh_from_db()
    assert flagged_image.content_hash == hashlib.sha256(OLD).hexdigest()


def test_seed_upload_of_new_bytes_is_a_new_analysis(catalog_client, scoring_model):
    set_threshold(scoring_model, MATCH_NONE)
    first = catalog_client.post(
        "/upload",
        {"file": upload(OLD), "description": "Red tee", "sku": "SWAP"},
        format="multipart",
    ).json()
    second = catalog_client.post(
        "/upload",
        {"file": upload(NEW, "new.png", "image/png"), "description": "Red tee", "sku": "SWAP"},
        format="multipart",
    ).json()
    assert second["already_uploaded"] is False
    assert second["analysis_id"] != first["analysis_id"]
    image = ProductImage.objects.get(pk=second["id"])
    assert (image.width, image.height, image.format) == (700, 500, "PNG")
    assert AnalysisResult.objects.get(pk=second["analysis_id"]).image_hash == image.content_hash


def test_orm_save_as_commands_do(flagged_image):
    """Commands and the shell replace a file by assigning it and saving."""
    old = AnalysisResult.objects.current().get(image=flagged_image)
    flagged_image.image = ContentFile(NEW, name="from-a-command.png")
    flagged_image.save()
    assert_reanalysed(flagged_image, old)
