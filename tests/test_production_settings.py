"""Production settings from the environment: connections, cache, media storage, pool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages

ROOT = Path(__file__).resolve().parent.parent


def settings_with(code: str, **env: str) -> dict:
    """Run ``code`` (which sets ``out``) after django.setup() in a fresh process."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CACHE_URL", "MEDIA_STORAGE"}
    }
    script = (
        "import django, json; django.setup(); from django.conf import settings\n"
        + code
        + "\nprint(json.dumps(out, default=str))"
    )
    outcome = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, "SECRET_KEY": "x", "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome.returncode == 0, outcome.stderr
    return json.loads(outcome.stdout.strip().splitlines()[-1])


def test_connections_close_after_each_request_by_default_and_always_under_runserver():
    url = "postgres://postgres@127.0.0.1:5432/x"
    code = "out = settings.DATABASES['default']['CONN_MAX_AGE']"
    assert settings_with(code, DATABASE_URL=url) == 0
    assert settings_with(code, DATABASE_URL=url, DATABASE_CONN_MAX_AGE="60") == 60
    runserver = (
        "import sys, importlib; sys.argv = ['manage.py', 'runserver'];"
        "import config.settings as s; importlib.reload(s);"
        "out = s.DATABASES['default']['CONN_MAX_AGE']"
    )
    assert settings_with(runserver, DATABASE_URL=url, DATABASE_CONN_MAX_AGE="60") == 0


def test_the_psycopg_pool_is_configured_from_the_environment():
    out = settings_with(
        "d = settings.DATABASES['default']; out = [d['CONN_MAX_AGE'], d['OPTIONS']]",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/x",
        DATABASE_POOL_MAX_SIZE="8",
    )
    assert out[0] == 0  # Django requires persistent connections off with a pool
    assert out[1]["pool"]["max_size"] == 8
    assert out[1]["connect_timeout"] == 5


def test_redis_url_makes_the_cache_redis_so_every_process_counts_together():
    out = settings_with(
        "c = settings.CACHES['default']; out = [c['BACKEND'], c['LOCATION']]",
        REDIS_URL="redis://127.0.0.1:6379/2",
    )
    assert out == ["django.core.cache.backends.redis.RedisCache", "redis://127.0.0.1:6379/2"]
    local = settings_with("out = settings.CACHES['default']['BACKEND']")
    assert local.endswith("LocMemCache")


def test_s3_media_storage_is_built_from_the_environment_without_network():
    out = settings_with(
        "from django.core.files.storage import storages\n"
        "s = storages['default']\n"
        "out = [type(s).__name__, s.bucket_name, s.endpoint_url, s.location, s.default_acl,"
        " s.querystring_auth, s.file_overwrite, s.url('products/ab/x.jpg')]",
        MEDIA_STORAGE="s3",
        S3_BUCKET="catalog-media",
        S3_ENDPOINT_URL="http://127.0.0.1:9000",
        S3_REGION="eu-west-1",
        S3_ACCESS_KEY_ID="test-key",
        S3_SECRET_ACCESS_KEY="test-secret",
    )
    name, bucket, endpoint, location, acl, signed, overwrite, url = out
    assert (name, bucket, endpoint, location) == (
        "S3Storage",
        "catalog-media",
        "http://127.0.0.1:9000",
        "media",
    )
    assert acl is None and signed is True and overwrite is False
    assert url.startswith("http://127.0.0.1:9000/catalog-media/media/products/ab/x.jpg?")
    assert "Signature" in url or "X-Amz-Signature" in url  # an expiring signed URL


def setup_fails(**env: str) -> str:
    """stderr of ``django.setup()`` with these variables; it must fail."""
    outcome = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": "x", "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome.returncode != 0
    return outcome.stderr


def test_an_unknown_media_storage_is_refused():
    assert "MEDIA_STORAGE" in setup_fails(MEDIA_STORAGE="ftp")


def test_svg_cannot_be_configured_as_an_allowed_format():
    assert "ALLOWED_IMAGE_FORMATS" in setup_fails(ALLOWED_IMAGE_FORMATS="JPEG,SVG")


@pytest.mark.django_db
def test_local_disk_media_really_stores_under_media_root(settings, catalog_client):
    """The filesystem path, for real: the upload lands in MEDIA_ROOT and is served from it."""
    from tests.factories import image_bytes, make_product, packshot, upload

    product = make_product()
    data = image_bytes(packshot(size=(64, 64)))
    response = catalog_client.post(
        "/api/v1/images/", {"product": product.pk, "image": upload(data)}, format="multipart"
    )
    assert response.status_code == 201
    name = response.json()["url"].split("/media/", 1)[1]
    assert (Path(settings.MEDIA_ROOT) / name).read_bytes() == data
    assert catalog_client.get(f"/media/{name}").getvalue() == data
    storage = storages["default"]
    saved = storage.save("products/zz/probe.png", ContentFile(b"x"))
    assert Path(storage.path(saved)).is_relative_to(Path(settings.MEDIA_ROOT))
