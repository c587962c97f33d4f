"""OpenAPI schema and Swagger UI: generated, valid, warning-free, complete, served offline."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db

ERROR_CODES = {"400", "401", "403", "404", "429"}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def test_spectacular_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    document = yaml.safe_load(target.read_text())
    assert document["openapi"].startswith("3.0")


def test_every_endpoint_is_documented(schema):
    operations = {
        (method.upper(), path) for path, item in schema["paths"].items() for method in item
    }
    assert operations >= {
        ("GET", "/api/v1/products/"),
        ("POST", "/api/v1/products/"),
        ("GET", "/api/v1/products/{id}/"),
        ("PUT", "/api/v1/products/{id}/"),
        ("PATCH", "/api/v1/products/{id}/"),
        ("DELETE", "/api/v1/products/{id}/"),
        ("GET", "/api/v1/images/"),
        ("POST", "/api/v1/images/"),
        ("DELETE", "/api/v1/images/{id}/"),
        ("GET", "/api/v1/analyses/"),
        ("GET", "/api/v1/analyses/{id}/"),
        ("GET", "/api/v1/review-items/"),
        ("POST", "/api/v1/review-items/{id}/verdict/"),
        ("POST", "/api/v1/review-items/{id}/correct-description/"),
        ("GET", "/api/v1/verdicts/"),
        ("GET", "/api/v1/models/"),
        ("POST", "/api/v1/models/{id}/activate/"),
        ("POST", "/api/v1/batch-score/"),
        ("POST", "/upload"),
    }


def test_every_operation_documents_the_error_shape(schema):
    error_ref = "#/components/schemas/Error"
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "fields"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert set(responses) >= ERROR_CODES, (method, path)
            for code in ERROR_CODES | ({"413", "415"} & set(responses)):
                content = responses[code]["content"]["application/json"]["schema"]
                assert content == {"$ref": error_ref}, (method, path, code)
            if "requestBody" in operation:
                assert {"413", "415"} <= set(responses), (method, path)


def test_list_filters_and_upload_parameters_are_documented(schema):
    def names(path, method="get"):
        return {p["name"] for p in schema["paths"][path][method].get("parameters", [])}

    assert names("/api/v1/products/") >= {
        "category",
        "status",
        "has_open_review",
        "score_min",
        "score_max",
        "q",
        "ordering",
        "page",
        "page_size",
    }
    assert names("/api/v1/analyses/") >= {"model_version", "is_match", "quality_passed", "q"}
    assert names("/upload", "post") == {"async", "update"}
    upload = schema["paths"]["/upload"]["post"]
    assert set(upload["requestBody"]["content"]) == {"multipart/form-data"}
    assert {"200", "202"} <= set(upload["responses"])


def test_schema_and_swagger_ui_are_served_without_a_cdn(anonymous):
    response = anonymous.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/products/" in response.content

    docs = anonymous.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
