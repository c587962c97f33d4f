"""Shared fixtures: a tiny CLIP model, test settings and named personas.

Personas (healthchecks style): ``admin_user`` (superuser), ``reviewer`` (staff
in the Reviewers group), ``catalog_system`` (API user with a token, may write),
``read_only_system`` (API token, read only), ``anonymous``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django_q.conf import Conf
from knox.models import AuthToken
from rest_framework.test import APIClient

from clipanalysis.access_groups import ensure_catalog_writers_group
from clipanalysis.clip_service import clear_clip_services
from clipanalysis.csv_format import write_training_csv
from clipanalysis.models import ModelVersion
from clipanalysis.registry import active_model
from clipanalysis.review import ensure_reviewers_group
from tests.tiny_clip import build_tiny_clip
from tests.verdict_csvs import VerdictFiles, write_colour_images


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def other_clip_dir(tmp_path_factory) -> Path:
    """A second tiny CLIP with other weights: a different model version."""
    return build_tiny_clip(tmp_path_factory.mktemp("other-clip"), seed=1)


@pytest.fixture(scope="session")
def verdict_files(tmp_path_factory) -> VerdictFiles:
    """32 training rows (16 images) and 16 validation rows (8 other images), balanced."""
    root = tmp_path_factory.mktemp("verdicts")
    write_training_csv(root / "train.csv", write_colour_images(root, "train", 16, seed=1))
    write_training_csv(root / "val.csv", write_colour_images(root, "val", 8, seed=2))
    return VerdictFiles(root=root, train_csv=root / "train.csv", val_csv=root / "val.csv")


@pytest.fixture(autouse=True)
def test_settings(settings, tiny_clip_dir, tmp_path, monkeypatch):
    """Run tasks inline (django-q2 sync mode), on the tiny model, into a temp media root."""
    settings.CLIP_MODEL_NAME = str(tiny_clip_dir)
    settings.CLIP_DEVICE = "cpu"
    settings.CLIP_DTYPE = "float32"
    settings.CLIP_COMPILE = False  # compiling costs more than a test run; one test opts in
    settings.CLIP_TORCH_THREADS = 1
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.QUALITY_PRESET = "general"
    monkeypatch.setattr(Conf, "SYNC", True)
    yield settings


@pytest.fixture
def scoring_model(db) -> ModelVersion:
    """The active model version (the tiny CLIP, registered on first use)."""
    return active_model()


@pytest.fixture
def clean_clip_services():
    clear_clip_services()
    yield
    clear_clip_services()


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser("admin", "admin@example.com", "admin-pass-123")


@pytest.fixture
def reviewer(db) -> User:
    user = User.objects.create_user("rita", "rita@example.com", "review-pass-123", is_staff=True)
    # The data migration makes the group; transactional tests flush it, so make it again.
    user.groups.add(ensure_reviewers_group())
    return user


@pytest.fixture
def catalog_system(db) -> User:
    user = User.objects.create_user("pim", "pim@example.com", "pim-pass-123")
    # The data migration makes the group; transactional tests flush it, so make it again.
    user.groups.add(ensure_catalog_writers_group())
    return user


@pytest.fixture
def read_only_system(db) -> User:
    return User.objects.create_user("dashboard", "dash@example.com", "dash-pass-123")


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


def token_client(user: User) -> APIClient:
    """An API client with a fresh (hashed, expiring) token of ``user``."""
    client = APIClient()
    _token, key = AuthToken.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def catalog_client(catalog_system) -> APIClient:
    return token_client(catalog_system)


@pytest.fixture
def read_only_client(read_only_system) -> APIClient:
    return token_client(read_only_system)
