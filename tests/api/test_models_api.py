"""/api/v1/models/: versions with metrics; activation is staff-only and re-scores."""

from __future__ import annotations

import pytest

from clipanalysis.models import AnalysisResult, ModelVersion
from clipanalysis.registry import register_model
from tests.api.conftest import error_of
from tests.conftest import token_client
from tests.tiny_clip import build_tiny_clip

pytestmark = pytest.mark.django_db
URL = "/api/v1/models/"


@pytest.fixture
def candidate(tmp_path, scoring_model) -> ModelVersion:
    directory = build_tiny_clip(tmp_path / "candidate", seed=1)
    return register_model(
        directory,
        source=ModelVersion.Source.TRAINED,
        metrics={"f1": 0.91, "auc": 0.95},
        threshold=0.3,
    )


def test_lists_versions_with_metrics(read_only_client, candidate, scoring_model):
    response = read_only_client.get(URL)
    assert response.status_code == 200, response.content
    by_version = {m["version"]: m for m in response.json()["results"]}
    assert by_version[candidate.version]["metrics"] == {"f1": 0.91, "auc": 0.95}
    assert by_version[candidate.version]["is_active"] is False
    assert by_version[scoring_model.version]["is_active"] is True

    active = read_only_client.get(URL, {"is_active": "true"}).json()["results"]
    assert [m["version"] for m in active] == [scoring_model.version]
    trained = read_only_client.get(URL, {"source": "trained"}).json()["results"]
    assert [m["version"] for m in trained] == [candidate.version]
    assert read_only_client.get(URL, {"q": candidate.version[:12]}).json()["count"] >= 1


@pytest.mark.parametrize(
    "persona", ["catalog_system", "read_only_system", "reviewer_without_staff"]
)
def test_only_staff_may_activate(request, persona, candidate):
    if persona == "reviewer_without_staff":
        from django.contrib.auth.models import User

        user = User.objects.create_user("not-staff")
    else:
        user = request.getfixturevalue(persona)
    response = token_client(user).post(f"{URL}{candidate.pk}/activate/")
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    candidate.refresh_from_db()
    assert candidate.is_active is False


def test_anonymous_cannot_activate(anonymous, candidate):
    assert anonymous.post(f"{URL}{candidate.pk}/activate/").status_code == 401


def test_staff_activates_and_the_catalog_is_rescored(
    admin_user, candidate, analysed_product, django_capture_on_commit_callbacks
):
    product = analysed_product()
    client = token_client(admin_user)
    # No held-out verdicts: the guard cannot tell the models apart and refuses.
    refused = client.post(f"{URL}{candidate.pk}/activate/")
    assert refused.status_code == 409, refused.content
    assert error_of(refused)["code"] == "activation_refused"
    assert '"force": true' in error_of(refused)["message"]
    assert ModelVersion.objects.active().get() != candidate

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{URL}{candidate.pk}/activate/", {"force": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["queued_images"] == 1
    assert "although the guard refused" in body["message"]
    assert body["model"]["version"] == candidate.version
    assert body["model"]["is_active"] is True
    assert ModelVersion.objects.active().get() == candidate
    current = AnalysisResult.objects.current().get(image__product=product)
    assert current.model_version == candidate
    assert current.status == AnalysisResult.Status.DONE


def test_unknown_model_is_a_404(admin_user, db):
    response = token_client(admin_user).post(f"{URL}999/activate/")
    assert response.status_code == 404


def test_list_query_count_is_constant(read_only_client, candidate, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        response = read_only_client.get(URL)
    assert response.json()["count"] == 2
