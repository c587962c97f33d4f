"""Who may do what, from one place (Django model permissions), the same in API and admin.

Personas: anonymous, a read-only token, a reviewer (staff, Reviewers group), a
catalog writer (Catalog systems group), an operator (Operators group) and a
superuser. Every API operation and every admin write is tried by each; the
table says which succeed. A refused write changes nothing.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from catalog.models import Product, ProductImage
from clipanalysis.access_groups import ensure_operators_group
from clipanalysis.models import ModelVersion, ReviewItem, Verdict
from clipanalysis.registry import register_model
from tests.api.conftest import MATCH_NONE, set_threshold
from tests.conftest import token_client
from tests.factories import add_image, image_bytes, make_product, packshot, upload

pytestmark = pytest.mark.django_db

PERSONAS = ["anonymous", "reader", "reviewer", "writer", "operator", "admin"]
# Which personas succeed; every other authenticated one gets 403, anonymous 401.
ANYONE_SIGNED_IN = {"reader", "reviewer", "writer", "operator", "admin"}
WRITERS = {"writer", "admin"}
REVIEWERS = {"reviewer", "admin"}
ACTIVATORS = {"operator", "admin"}


@pytest.fixture
def world(scoring_model, other_clip_dir, django_capture_on_commit_callbacks):
    set_threshold(scoring_model, MATCH_NONE)
    with django_capture_on_commit_callbacks(execute=True):
        product = make_product("Red cotton t-shirt", sku="MATRIX")
        image = add_image(product)
        other = add_image(
            make_product("Green mug", sku="MATRIX-2"), image_bytes(packshot((0, 99, 0)))
        )
    candidate = register_model(other_clip_dir, threshold=0.3)
    return {
        "product": product,
        "image": image,
        "item": ReviewItem.objects.open().get(image=image),
        "other_item": ReviewItem.objects.open().get(image=other),
        "candidate": candidate,
    }


@pytest.fixture
def personas(reviewer, catalog_system, read_only_system, admin_user) -> dict[str, User | None]:
    operator = User.objects.create_user("otto", "otto@example.com", "otto-pass-123", is_staff=True)
    operator.groups.add(ensure_operators_group())
    return {
        "anonymous": None,
        "reader": read_only_system,
        "reviewer": reviewer,
        "writer": catalog_system,
        "operator": operator,
        "admin": admin_user,
    }


def api_client(user):
    if user is None:
        from rest_framework.test import APIClient

        return APIClient()
    return token_client(user)


def api_requests(world) -> list[tuple[str, str, str, dict, str, set[str]]]:
    """(name, method, path, data, format, who succeeds)."""
    product, image, item = world["product"], world["image"], world["item"]
    new_png = image_bytes(packshot((0, 90, 200)), "PNG")
    return [
        ("list products", "get", "/api/v1/products/", {}, "json", ANYONE_SIGNED_IN),
        ("read product", "get", f"/api/v1/products/{product.pk}/", {}, "json", ANYONE_SIGNED_IN),
        ("list images", "get", "/api/v1/images/", {}, "json", ANYONE_SIGNED_IN),
        ("list analyses", "get", "/api/v1/analyses/", {}, "json", ANYONE_SIGNED_IN),
        ("list review items", "get", "/api/v1/review-items/", {}, "json", ANYONE_SIGNED_IN),
        ("list verdicts", "get", "/api/v1/verdicts/", {}, "json", ANYONE_SIGNED_IN),
        ("list models", "get", "/api/v1/models/", {}, "json", ANYONE_SIGNED_IN),
        (
            "create product",
            "post",
            "/api/v1/products/",
            {"sku": "NEW-1", "description": "Blue mug"},
            "json",
            WRITERS,
        ),
        (
            "edit product",
            "patch",
            f"/api/v1/products/{product.pk}/",
            {"title": "Edited"},
            "json",
            WRITERS,
        ),
        (
            "upload image",
            "post",
            "/api/v1/images/",
            {"product": product.pk, "image": upload(image_bytes(packshot((0, 200, 0))))},
            "multipart",
            WRITERS,
        ),
        (
            "replace image",
            "patch",
            f"/api/v1/images/{image.pk}/",
            {"image": upload(new_png, "new.png", "image/png")},
            "multipart",
            WRITERS,
        ),
        (
            "seed upload",
            "post",
            "/upload?async=1",
            {"file": upload(image_bytes(packshot((9, 9, 9)))), "description": "Black mug"},
            "multipart",
            WRITERS,
        ),
        (
            "batch score",
            "post",
            "/api/v1/batch-score/",
            {"files": [upload()], "descriptions": ["Red tee"]},
            "multipart",
            ANYONE_SIGNED_IN,
        ),
        (
            "record verdict",
            "post",
            f"/api/v1/review-items/{item.pk}/verdict/",
            {"decision": "match"},
            "json",
            REVIEWERS,
        ),
        (
            "correct description",
            "post",
            f"/api/v1/review-items/{world['other_item'].pk}/correct-description/",
            {"text": "Blue ceramic mug"},
            "json",
            REVIEWERS,
        ),
        (
            "activate model",
            "post",
            f"/api/v1/models/{world['candidate'].pk}/activate/",
            {"force": True},  # no held-out verdicts here: unforced, the guard refuses
            "json",
            ACTIVATORS,
        ),
        ("delete image", "delete", f"/api/v1/images/{image.pk}/", {}, "json", WRITERS),
        ("delete product", "delete", f"/api/v1/products/{product.pk}/", {}, "json", WRITERS),
    ]


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_matrix(persona, personas, world, settings):
    settings.UPLOAD_WAIT_SECONDS = 0
    client = api_client(personas[persona])
    outcomes = {}
    for name, method, path, data, fmt, allowed in api_requests(world):
        response = getattr(client, method)(path, data, format=fmt)
        outcomes[name] = response.status_code
        if persona in allowed:
            assert response.status_code < 300, (persona, name, response.content[:300])
        else:
            expected = 401 if persona == "anonymous" else 403
            assert response.status_code == expected, (persona, name, response.content[:300])
    if persona not in WRITERS:
        assert Product.objects.filter(sku="MATRIX", title__startswith="Red").exists()
        assert not Product.objects.filter(sku="NEW-1").exists()
        assert ProductImage.objects.filter(pk=world["image"].pk).exists()
    if persona not in REVIEWERS:
        assert not Verdict.objects.exists()
    if persona not in ACTIVATORS:
        assert not ModelVersion.objects.get(pk=world["candidate"].pk).is_active


def admin_client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("persona", PERSONAS)
def test_admin_matrix(persona, personas, world):
    """The same permissions in the admin: add/change/delete pages and the activation action."""
    user = personas[persona]
    client = admin_client(user)
    product, candidate = world["product"], world["candidate"]
    staff = user is not None and user.is_staff
    pages = {
        "add product page": (reverse("admin:catalog_product_add"), WRITERS),
        "delete product page": (
            reverse("admin:catalog_product_delete", args=[product.pk]),
            WRITERS,
        ),
        "add image page": (reverse("admin:catalog_productimage_add"), WRITERS),
    }
    for name, (url, allowed) in pages.items():
        response = client.get(url)
        if not staff:
            assert response.status_code == 302, (persona, name)  # to the login page
        elif persona in allowed:
            assert response.status_code == 200, (persona, name)
        else:
            assert response.status_code == 403, (persona, name)
    response = client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        {
            "sku": product.sku,
            "title": "Changed in admin",
            "description": product.description,
            "category": product.category,
            "images-TOTAL_FORMS": "0",
            "images-INITIAL_FORMS": "0",
            "images-MIN_NUM_FORMS": "0",
            "images-MAX_NUM_FORMS": "1000",
        },
    )
    changed = Product.objects.get(pk=product.pk).title == "Changed in admin"
    assert changed == (staff and persona in WRITERS), (persona, response.status_code)
    response = client.post(
        reverse("admin:clipanalysis_modelversion_changelist"),
        {
            "action": "activate_version",
            "_selected_action": [candidate.pk],
            "post": "yes",
            "force": "on",
        },
    )
    assert response.status_code in (200, 302, 403)
    candidate.refresh_from_db()
    assert candidate.is_active == (staff and persona in ACTIVATORS), persona
