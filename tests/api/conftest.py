"""API test helpers: analysed products through the real pipeline, a fresh throttle cache."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from catalog.models import Product
from clipanalysis.models import ModelVersion
from tests.factories import add_image, image_bytes, make_product, packshot


@pytest.fixture(autouse=True)
def fresh_throttle_cache():
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


# Scores lie in [0, 1]: these thresholds make every image a clear match or a clear
# mismatch (never "uncertain", which is within REVIEW_UNCERTAINTY_BAND of it).
MATCH_ALL = -0.5
MATCH_NONE = 1.5


def set_threshold(model_version: ModelVersion, threshold: float) -> None:
    ModelVersion.objects.filter(pk=model_version.pk).update(threshold=threshold)
    model_version.refresh_from_db()


@pytest.fixture
def analysed_product(scoring_model, django_capture_on_commit_callbacks):
    """Make a product with images whose analyses ran (the on-commit tasks are executed)."""

    def make(
        description: str = "Red cotton t-shirt with stripes",
        *,
        images: list[bytes] | None = None,
        threshold: float | None = None,
        **product_fields,
    ) -> Product:
        if threshold is not None:
            set_threshold(scoring_model, threshold)
        with django_capture_on_commit_callbacks(execute=True):
            product = make_product(description, **product_fields)
            for data in images if images is not None else [image_bytes(packshot())]:
                add_image(product, data)
        return product

    return make


def error_of(response) -> dict:
    """The error object of a 4xx body, after checking the shape every error shares."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]
