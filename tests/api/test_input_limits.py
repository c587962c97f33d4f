"""Every limit a request can hit, hit: JSON depth, size and numbers; NUL bytes in the
admin's parameters, paths and cookies; batch pixels and the process pixel budget."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Product
from catalog.pixel_budget import process_budget
from tests.api.conftest import error_of
from tests.factories import image_bytes, make_product, packshot, upload

pytestmark = pytest.mark.django_db
PRODUCTS = "/api/v1/products/"


def post_json(client, body: bytes | str):
    return client.generic("POST", PRODUCTS, body, content_type="application/json")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper"),
        ('{"sku": "A", "description": ' + "[" * 40 + "]" * 40 + "}", "nested deeper"),
        ('{"sku": "A", "description": "x", "n": ' + "9" * 5000 + "}", "longer than"),
        ('{"sku": "A", "description": "x", "n": 1e999}', "out of range"),
        ('{"sku": "A", "description": "x", "n": NaN}', "not valid JSON"),
        (b'{"sku": "\xff\xfe"}', "not UTF-8"),
    ],
    ids=["100k-levels", "41-levels", "5000-digits", "1e999", "NaN", "not-utf8"],
)
def test_hostile_json_is_a_400_parse_error(catalog_client, body, says):
    response = post_json(catalog_client, body)
    assert response.status_code == 400, response.content[:300]
    error = error_of(response)
    assert error["code"] == "parse_error"
    assert says in error["message"]
    assert not Product.objects.exists()


def test_json_at_the_depth_limit_still_parses(catalog_client, settings):
    nested = "[" * (settings.JSON_MAX_DEPTH - 1) + "]" * (settings.JSON_MAX_DEPTH - 1)
    response = post_json(catalog_client, '{"sku": "D", "description": "Mug", "x": ' + nested + "}")
    assert response.status_code == 201, response.content


def test_a_json_body_over_its_limit_is_a_413(catalog_client, settings):
    settings.JSON_MAX_BODY_BYTES = 1000
    response = post_json(catalog_client, json.dumps({"sku": "B", "description": "x" * 2000}))
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/catalog/product/?category=%00",
        "/admin/catalog/product/?q=%00",
        "/admin/catalog/product/?o=%00",
        "/admin/clipanalysis/reviewitem/?image__product__category=%00",
        "/admin/catalog/product/%00/change/",
        "/admin/login/?next=%00",
    ],
)
def test_nul_bytes_in_admin_paths_and_parameters_are_a_400(admin_user, path):
    make_product(category="mug")
    client = Client()
    client.force_login(admin_user)
    response = client.get(path)
    assert response.status_code == 400, (path, response.status_code)
    assert b"Null characters" in response.content


def test_a_nul_byte_in_a_cookie_is_a_400(admin_user):
    client = Client()
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"
    response = client.get(reverse("admin:index"))
    assert response.status_code == 400


def test_nul_bytes_in_an_admin_form_are_a_form_error_not_a_500(admin_user):
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:catalog_product_add"),
        {
            "sku": "NUL\x00",
            "description": "Red\x00 mug",
            "images-TOTAL_FORMS": "0",
            "images-INITIAL_FORMS": "0",
            "images-MIN_NUM_FORMS": "0",
            "images-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 200
    assert b"Null characters are not allowed" in response.content
    assert not Product.objects.exists()


def test_nul_in_a_token_header_is_a_401(anonymous):
    anonymous.credentials(HTTP_AUTHORIZATION="Token abc\x00def")
    assert anonymous.get(PRODUCTS).status_code == 401


def test_batch_score_is_limited_by_total_pixels(read_only_client, settings, scoring_model):
    files = [upload(image_bytes(packshot(size=(200, 200)))) for _ in range(3)]
    settings.BATCH_MAX_PIXELS = 2 * 200 * 200  # two fit, three do not
    response = read_only_client.post(
        "/api/v1/batch-score/",
        {"files": files, "descriptions": ["a", "b", "c"]},
        format="multipart",
    )
    assert response.status_code == 413, response.content
    error = error_of(response)
    assert "120,000 pixels" in error["message"] and "files" in error["fields"]


def test_batch_score_answers_503_when_the_pixel_budget_is_taken(
    read_only_client, settings, scoring_model
):
    settings.DECODE_PIXEL_BUDGET = 500_000
    settings.DECODE_WAIT_SECONDS = 0.2
    with process_budget(500_000).reserve(400_000):  # another request is decoding
        response = read_only_client.post(
            "/api/v1/batch-score/",
            {"files": [upload(image_bytes(packshot(size=(400, 400))))], "descriptions": ["a"]},
            format="multipart",
        )
    assert response.status_code == 503, response.content
    assert error_of(response)["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0
    assert process_budget(500_000).in_use == 0


def test_a_format_that_must_be_decoded_to_be_checked_waits_for_the_budget(catalog_client, settings):
    """GIF/WebP/BMP/TIFF are proven decodable by decoding them, inside the budget."""
    settings.DECODE_PIXEL_BUDGET = 50_000
    settings.MAX_IMAGE_PIXELS = 50_000
    settings.DECODE_WAIT_SECONDS = 0.2
    product = make_product()
    gif = upload(image_bytes(packshot(size=(200, 200)), "GIF"), "a.gif", "image/gif")
    with process_budget(50_000).reserve(30_000):
        response = catalog_client.post(
            "/api/v1/images/", {"product": product.pk, "image": gif}, format="multipart"
        )
    assert response.status_code == 503, response.content
    assert not product.images.exists()
