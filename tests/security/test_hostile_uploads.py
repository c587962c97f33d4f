"""The hostile corpus through every upload surface: a clear 4xx or correct handling.

Surfaces: ``/api/v1/images/``, the seed ``/upload``, the admin's image form and
``/api/v1/batch-score/``. For every case: never a 5xx; a refused file leaves
nothing behind; an accepted one is stored under ``products/<key>.<format>``
inside ``MEDIA_ROOT`` (the client's name only in ``original_filename``) with
its size as displayed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from catalog.imaging import extension_for
from catalog.models import Product, ProductImage
from clipanalysis.models import AnalysisResult
from tests.factories import make_product
from tests.hostile_corpus import Case, upload_cases

pytestmark = pytest.mark.django_db
CASES = upload_cases()
STORED_NAME = re.compile(r"products/[0-9a-f]{2}/[0-9a-f]{32}\.(jpg|png|webp|gif|bmp|tiff)")


def file_of(case: Case) -> SimpleUploadedFile:
    return SimpleUploadedFile(case.filename, case.data, "application/octet-stream")


def files_on_disk(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def check_outcome(case: Case, status: int, settings, tmp_path: Path) -> None:
    assert status < 500, (case.name, status)
    media = Path(settings.MEDIA_ROOT)
    # Nothing anywhere under the test's folder but inside MEDIA_ROOT.
    outside = [p for p in files_on_disk(tmp_path) if media not in p.parents]
    assert outside == [], outside
    if not case.accept:
        assert 400 <= status < 500, (case.name, status)
        assert not ProductImage.objects.exists()
        assert files_on_disk(media) == []
        return
    assert status in (200, 201, 202), (case.name, status)
    image = ProductImage.objects.get()
    assert STORED_NAME.fullmatch(image.image.name), image.image.name
    assert image.image.name.endswith(extension_for(case.expected_format)), image.image.name
    assert image.format == case.expected_format
    assert (image.width, image.height) == case.expected_size
    assert "\x00" not in image.original_filename and "/" not in image.original_filename
    assert len(image.original_filename) <= 255
    assert [p.relative_to(media).as_posix() for p in files_on_disk(media)] == [image.image.name]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_images_api(case, catalog_client, settings, tmp_path):
    product = make_product()
    response = catalog_client.post(
        "/api/v1/images/", {"product": product.pk, "image": file_of(case)}, format="multipart"
    )
    check_outcome(case, response.status_code, settings, tmp_path)
    if not case.accept:
        assert "image" in response.json()["error"]["fields"], response.content


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_seed_upload(case, catalog_client, settings, tmp_path):
    settings.UPLOAD_WAIT_SECONDS = 0
    response = catalog_client.post(
        "/upload?async=1",
        {"file": file_of(case), "description": "Red cotton t-shirt", "sku": "HOSTILE"},
        format="multipart",
    )
    check_outcome(case, response.status_code, settings, tmp_path)
    if not case.accept:
        assert not Product.objects.exists()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_admin_form(case, admin_user, settings, tmp_path):
    product = make_product()
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:catalog_productimage_add"), {"product": product.pk, "image": file_of(case)}
    )
    if case.accept:
        assert response.status_code == 302, response.content[:2000]
    else:
        assert response.status_code == 200  # the form again, with the reason
        assert b"errorlist" in response.content
    check_outcome(case, 201 if response.status_code == 302 else 400, settings, tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_batch_score(case, read_only_client, settings, tmp_path, scoring_model):
    response = read_only_client.post(
        "/api/v1/batch-score/",
        {"files": [file_of(case)], "descriptions": ["Red cotton t-shirt"]},
        format="multipart",
    )
    assert response.status_code < 500, response.content
    assert response.status_code == (200 if case.accept else 400), response.content
    assert files_on_disk(Path(settings.MEDIA_ROOT)) == []
    assert not AnalysisResult.objects.exists()
    if case.accept:
        width, height = case.expected_size
        row = response.json()["results"][0]
        assert (row["width"], row["height"]) == (width, height)
