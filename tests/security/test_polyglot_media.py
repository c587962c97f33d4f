"""Polyglots (valid images that are also HTML/SVG) through every surface, and what
``/media/`` answers: never a page that can run on our origin."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from catalog.models import ProductImage
from tests.factories import make_product
from tests.hostile_corpus import gif_html_polyglot, jpeg_html_polyglot

pytestmark = pytest.mark.django_db
POLYGLOTS = [
    ("evil.html", gif_html_polyglot(), ".gif", "image/gif"),
    ("evil.htm", gif_html_polyglot(), ".gif", "image/gif"),
    ("evil.svg", jpeg_html_polyglot(), ".jpg", "image/jpeg"),
]


def polyglot(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, "text/html")


def assert_served_safely(client, image: ProductImage, extension: str, content_type: str):
    assert image.image.name.endswith(extension), image.image.name
    assert not image.image.name.endswith((".html", ".htm", ".svg"))
    response = client.get(f"/media/{image.image.name}")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["X-Content-Type-Options"] == "nosniff"
    csp = response["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp
    assert "script-src" not in csp
    assert response.get("Content-Disposition", "inline").startswith("inline")  # an image: inline


@pytest.mark.parametrize(("name", "data", "extension", "content_type"), POLYGLOTS)
def test_seed_upload_stores_and_serves_the_decoded_format(
    catalog_client, settings, name, data, extension, content_type
):
    settings.UPLOAD_WAIT_SECONDS = 0
    response = catalog_client.post(
        "/upload", {"file": polyglot(name, data), "description": "Red mug"}, format="multipart"
    )
    assert response.status_code == 202, response.content
    image = ProductImage.objects.get()
    assert image.original_filename == name
    assert_served_safely(catalog_client, image, extension, content_type)


@pytest.mark.parametrize(("name", "data", "extension", "content_type"), POLYGLOTS)
def test_images_api_stores_and_serves_the_decoded_format(
    catalog_client, name, data, extension, content_type
):
    product = make_product()
    response = catalog_client.post(
        "/api/v1/images/",
        {"product": product.pk, "image": polyglot(name, data)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["url"].endswith(extension)
    assert_served_safely(catalog_client, ProductImage.objects.get(), extension, content_type)


@pytest.mark.parametrize(("name", "data", "extension", "content_type"), POLYGLOTS)
def test_admin_form_stores_and_serves_the_decoded_format(
    admin_user, name, data, extension, content_type
):
    product = make_product()
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:catalog_productimage_add"),
        {"product": product.pk, "image": polyglot(name, data)},
    )
    assert response.status_code == 302
    assert_served_safely(client, ProductImage.objects.get(), extension, content_type)


def test_batch_score_scores_a_polyglot_and_stores_nothing(read_only_client, settings, db):
    files = [polyglot(name, data) for name, data, _, _ in POLYGLOTS]
    response = read_only_client.post(
        "/api/v1/batch-score/",
        {"files": files, "descriptions": ["Red mug"] * len(files)},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    assert [row["filename"] for row in response.json()["results"]] == [n for n, *_ in POLYGLOTS]
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(path.is_file() for path in media.rglob("*"))


def test_svg_is_refused_on_every_surface(catalog_client, read_only_client, settings):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    product = make_product()
    answers = [
        catalog_client.post(
            "/api/v1/images/",
            {"product": product.pk, "image": polyglot("a.svg", svg)},
            format="multipart",
        ),
        catalog_client.post(
            "/upload", {"file": polyglot("a.svg", svg), "description": "x"}, format="multipart"
        ),
        read_only_client.post(
            "/api/v1/batch-score/",
            {"files": [polyglot("a.svg", svg)], "descriptions": ["x"]},
            format="multipart",
        ),
    ]
    for response in answers:
        assert response.status_code == 400, response.content
        assert "SVG" in response.content.decode()
    assert not ProductImage.objects.exists()


def test_a_file_that_is_not_an_allowed_image_is_served_as_an_attachment(client, settings):
    """A file left in MEDIA_ROOT from before names were random (or put there by hand)."""
    legacy = Path(settings.MEDIA_ROOT) / "products" / "old" / "page.html"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"<script>alert(1)</script>")
    response = client.get("/media/products/old/page.html")
    assert response.status_code == 200
    assert response["Content-Disposition"] == "attachment"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_no_path_outside_media_root_is_served(client, settings):
    for path in ["/media/../../etc/passwd", "/media/%2e%2e/%2e%2e/etc/passwd"]:
        response = client.get(path)
        assert response.status_code in (400, 404), path
        assert b"root:" not in response.content
