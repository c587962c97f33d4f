"""Cross-cutting API behaviour: one error shape, authentication, throttling, hostile input."""

from __future__ import annotations

import pytest

from tests.api.conftest import error_of
from tests.factories import make_product

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/products/",
    "/api/v1/images/",
    "/api/v1/analyses/",
    "/api/v1/review-items/",
    "/api/v1/verdicts/",
    "/api/v1/models/",
]


@pytest.mark.parametrize("url", LISTS)
def test_every_list_needs_authentication(anonymous, url):
    response = anonymous.get(url)
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("url", LISTS)
def test_every_list_reads_with_a_read_only_token(read_only_client, url):
    response = read_only_client.get(url)
    assert response.status_code == 200, response.content
    assert {"count", "next", "previous", "results"} <= set(response.json())


@pytest.mark.parametrize("url", LISTS)
def test_nul_bytes_and_unknown_parameters_in_queries_are_a_400(read_only_client, url):
    for params, field in [
        ({"q": "a\x00b"}, "q"),
        ({"zzz": "1"}, "zzz"),
        ({"a\x00": "1"}, "a\\x00"),
    ]:
        response = read_only_client.get(url, params)
        assert response.status_code == 400, (url, params, response.content)
        assert field in error_of(response)["fields"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-thing/",
        "/api/v1/products/abc/",
        "/api/v1/products/%00/",
        "/api/v1/products/1%00/",
        "/api/v2/products/",
        "/api/v1/products",
    ],
)
def test_unknown_api_paths_are_a_json_404(read_only_client, path):
    response = read_only_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "not_found"


def test_unknown_parameters_on_a_detail_are_a_400(read_only_client):
    product = make_product()
    response = read_only_client.get(f"/api/v1/products/{product.pk}/", {"expand": "images"})
    assert response.status_code == 400
    assert "expand" in error_of(response)["fields"]
    assert read_only_client.get(f"/api/v1/products/{product.pk}/?format=json").status_code == 200


def test_method_not_allowed_has_the_error_shape(catalog_client):
    response = catalog_client.put("/api/v1/analyses/", {})
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_per_user_throttling(read_only_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100/minute", "user": "3/minute"},
    }
    statuses = [read_only_client.get("/api/v1/products/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = read_only_client.get("/api/v1/products/")
    assert error_of(response)["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_anonymous_throttling(anonymous, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/minute", "user": "100/minute"},
    }
    statuses = [anonymous.get("/api/schema/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_throttles_count_per_user(read_only_client, catalog_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100/minute", "user": "1/minute"},
    }
    assert read_only_client.get("/api/v1/products/").status_code == 200
    assert read_only_client.get("/api/v1/products/").status_code == 429
    assert catalog_client.get("/api/v1/products/").status_code == 200


def test_a_body_over_djangos_memory_limit_is_a_413(catalog_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = catalog_client.post(
        "/api/v1/products/", {"sku": "BIG", "description": "x" * 2000}, format="json"
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_session_authenticated_writes_need_csrf(client, catalog_system):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(catalog_system)
    response = csrf_client.post(
        "/api/v1/products/", {"sku": "S", "description": "d"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "CSRF" in error_of(response)["message"]


def test_an_unacceptable_accept_header_is_a_406(read_only_client):
    response = read_only_client.get("/api/v1/products/", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    assert error_of(response)["code"] == "not_acceptable"


@pytest.mark.parametrize("path", ["/api/v1/products/", "/upload"])
def test_a_disallowed_host_is_a_json_400_under_the_api(read_only_client, path):
    response = read_only_client.get(path, HTTP_HOST="catalog.evil.example")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "bad_request"
    assert "ALLOWED_HOSTS" in error_of(response)["message"]


def test_a_disallowed_host_stays_html_outside_the_api(client):
    response = client.get("/admin/login/", HTTP_HOST="catalog.evil.example")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
