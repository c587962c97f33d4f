"""Honest answers when a dependency is down (issue 16 #5): the broker unreachable at
upload time is a 202 the sweeper finishes; a database that fails is a JSON 503."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django_q.conf import Conf

from catalog.models import ProductImage
from clipanalysis import pipeline
from clipanalysis.models import AnalysisResult
from tests.api.conftest import error_of
from tests.factories import make_product, upload
from tests.live_server import free_port


@pytest.fixture
def broker_down(monkeypatch, settings):
    """django-q2 pointed at a Redis port nobody listens on, and not in sync mode."""
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{free_port()}/0")
    settings.UPLOAD_WAIT_SECONDS = 30  # it must not wait for a worker that cannot be woken


@pytest.mark.django_db(transaction=True)
def test_upload_with_the_broker_down_is_a_202_that_the_sweeper_finishes(
    catalog_client, broker_down, scoring_model, monkeypatch, settings
):
    response = catalog_client.post(
        "/upload", {"file": upload(), "description": "Red tee", "sku": "DOWN"}, format="multipart"
    )
    assert response.status_code == 202, response.content
    assert int(response["Retry-After"]) > 0
    body = response.json()
    result = AnalysisResult.objects.get(pk=body["analysis_id"])
    assert result.status == AnalysisResult.Status.PENDING
    assert result.enqueued_at is None  # the wake-up was lost, and the row says so

    # A retry is honest too: the same upload, still pending.
    again = catalog_client.post(
        "/upload", {"file": upload(), "description": "Red tee", "sku": "DOWN"}, format="multipart"
    )
    assert again.status_code == 202
    assert again.json()["already_uploaded"] is True

    # The broker is back (here: inline); the sweeper finds the row and it is analysed.
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.ANALYSIS_LEASE_SECONDS = 0
    outcome = pipeline.recover_stuck()
    assert outcome["requeued"] >= 1
    result.refresh_from_db()
    assert result.status == AnalysisResult.Status.DONE
    assert ProductImage.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_image_upload_with_the_broker_down_is_stored_and_pending(
    catalog_client, broker_down, scoring_model
):
    product = make_product()
    response = catalog_client.post(
        "/api/v1/images/", {"product": product.pk, "image": upload()}, format="multipart"
    )
    assert response.status_code == 201, response.content
    assert response.json()["analysis"]["status"] == "pending"


@pytest.mark.django_db
def test_a_database_error_is_a_json_503_with_retry_after(catalog_client, monkeypatch):
    def unavailable(*args, **kwargs):
        raise OperationalError("sorry, too many clients already")

    monkeypatch.setattr("clipanalysis.api.views.catalog.ProductViewSet.list", unavailable)
    response = catalog_client.get("/api/v1/products/")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0
