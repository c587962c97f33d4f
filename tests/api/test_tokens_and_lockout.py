"""API tokens are stored hashed and expire; failed token and admin logins are locked out
per account and per address (django-axes), even for the right credentials afterwards."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db
URL = "/api/v1/products/"


def with_token(key: str, address: str = "10.9.8.7") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_create_api_token_prints_the_key_once_and_stores_only_a_digest(catalog_system):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "pim", "--days", "30", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert len(key) == 64
    token = AuthToken.objects.get(user=catalog_system)
    assert token.digest != key and key not in token.digest and len(token.digest) == 128
    assert token.token_key == key[:15]  # a lookup prefix, not the secret
    assert timedelta(days=29) < token.expiry - timezone.now() <= timedelta(days=30)
    assert "shown only now" in err.getvalue()
    assert with_token(key).get(URL).status_code == 200


def test_create_api_token_can_make_a_writer(db):
    out = StringIO()
    call_command(
        "create_api_token", "erp", "--create-user", "--writer", stdout=out, stderr=StringIO()
    )
    response = with_token(out.getvalue().strip()).post(URL, {"sku": "T-1", "description": "Mug"})
    assert response.status_code == 201


@pytest.mark.parametrize("args", [["nobody"], ["pim", "--days", "0"], ["\x00"]])
def test_create_api_token_refuses_bad_input(catalog_system, args):
    with pytest.raises(CommandError):
        call_command("create_api_token", *args, stdout=StringIO(), stderr=StringIO())


def test_tokens_expire(catalog_system):
    token, key = AuthToken.objects.create(user=catalog_system, expiry=timedelta(days=1))
    assert with_token(key).get(URL).status_code == 200
    AuthToken.objects.filter(pk=token.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    response = with_token(key).get(URL)
    assert response.status_code == 401
    assert not AuthToken.objects.filter(pk=token.pk).exists()


def test_wrong_tokens_lock_the_account_even_for_its_right_token(catalog_system, settings):
    settings.AXES_FAILURE_LIMIT = 5
    _token, key = AuthToken.objects.create(user=catalog_system)
    wrong = key[:15] + "0" * (len(key) - 15)  # names this account's token, wrong secret
    statuses = [with_token(wrong, address=f"10.0.0.{n}").get(URL).status_code for n in range(5)]
    assert statuses == [401, 401, 401, 401, 429]  # the fifth failure locks the account
    response = with_token(key, address="10.0.1.1").get(URL)  # right token, other address
    assert response.status_code == 429
    assert error_of(response)["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_wrong_tokens_lock_the_address(catalog_system, settings):
    settings.AXES_FAILURE_LIMIT = 5
    _token, key = AuthToken.objects.create(user=catalog_system)
    statuses = [with_token("f" * 64, address="10.2.3.4").get(URL).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    assert with_token(key, address="10.2.3.4").get(URL).status_code == 429
    assert with_token(key, address="10.2.3.5").get(URL).status_code == 200


def test_failed_admin_logins_lock_the_account(admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 5
    login = reverse("admin:login")
    statuses = [
        Client(REMOTE_ADDR=f"10.1.0.{n}")
        .post(login, {"username": "admin", "password": "wrong"})
        .status_code
        for n in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]  # the form again, then locked
    client = Client(REMOTE_ADDR="10.1.1.1")
    response = client.post(login, {"username": "admin", "password": "admin-pass-123"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_failed_admin_logins_lock_the_address(admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 5
    login = reverse("admin:login")
    client = Client(REMOTE_ADDR="10.7.7.7")
    for attempt in range(5):
        client.post(login, {"username": f"guess{attempt}", "password": "wrong"})
    response = client.post(login, {"username": "admin", "password": "admin-pass-123"})
    assert response.status_code == 429
    other = Client(REMOTE_ADDR="10.7.7.8")
    assert other.post(login, {"username": "admin", "password": "admin-pass-123"}).status_code == 302


def test_trusted_proxy_count_decides_which_address_counts(catalog_system, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(3):
        client = APIClient(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1, 10.5.5.5")
        client.credentials(HTTP_AUTHORIZATION="Token " + "e" * 64)
        assert client.get(URL).status_code in (401, 429)
    assert client.get(URL).status_code == 429  # that client is locked out
    _token, key = AuthToken.objects.create(user=catalog_system)
    # Same proxy, another client behind it: not locked out by its neighbour.
    client = APIClient(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.5.5.6")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(URL).status_code == 200
