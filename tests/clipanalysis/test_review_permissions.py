"""Who may see and work the review queue: staff only, reviewers review, nobody deletes."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from catalog.models import Product
from clipanalysis import review
from clipanalysis.models import ReviewItem, Verdict
from tests.clipanalysis.test_review_queue import scored_item

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:clipanalysis_reviewitem_changelist")
NEXT = reverse("admin:clipanalysis_reviewitem_next")
DASHBOARD = reverse("admin:clipanalysis_reviewitem_dashboard")


def review_url(item: ReviewItem) -> str:
    return reverse("admin:clipanalysis_reviewitem_review", args=[item.pk])


@pytest.fixture
def item() -> ReviewItem:
    return scored_item(0.10)


@pytest.fixture
def viewer(db) -> User:
    """Staff who may look at the queue but not record verdicts."""
    user = User.objects.create_user("vera", "vera@example.com", "view-pass-123", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="view_reviewitem"),
        Permission.objects.get(codename="view_product"),
    )
    return user


def logged_in(user: User, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


# --- the Reviewers group (created by a data migration) ------------------------------
def test_reviewers_group_has_exactly_the_review_permissions():
    group = Group.objects.get(name="Reviewers")
    granted = {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }
    assert granted == {
        "catalog.view_product",
        "catalog.view_productimage",
        "clipanalysis.view_analysisresult",
        "clipanalysis.view_reviewitem",
        "clipanalysis.change_reviewitem",
        "clipanalysis.review_item",
        "clipanalysis.view_verdict",
        "clipanalysis.add_verdict",
    }


def test_reviewer_can_review_but_not_delete_or_change_products(reviewer):
    assert reviewer.has_perm("clipanalysis.review_item")
    assert reviewer.has_perm("clipanalysis.add_verdict")
    assert not reviewer.has_perm("catalog.delete_product")
    assert not reviewer.has_perm("catalog.change_product")
    assert not reviewer.has_perm("catalog.delete_productimage")


def test_reviewer_gets_403_on_product_delete_page_and_product_survives(reviewer, item):
    product = item.image.product
    client = logged_in(reviewer)
    url = reverse("admin:catalog_product_delete", args=[product.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert Product.objects.filter(pk=product.pk).exists()


def test_ensure_reviewers_group_is_idempotent():
    review.ensure_reviewers_group()
    review.ensure_reviewers_group()
    assert Group.objects.filter(name="Reviewers").count() == 1
    assert Group.objects.get(name="Reviewers").permissions.count() == 8


# --- who sees the queue ---------------------------------------------------------
def test_reviewer_sees_queue_review_page_and_dashboard(reviewer, item):
    client = logged_in(reviewer)
    assert client.get(CHANGELIST).status_code == 200
    assert client.get(review_url(item)).status_code == 200
    assert client.get(DASHBOARD).status_code == 200


@pytest.mark.parametrize("url_name", ["changelist", "review", "dashboard"])
def test_anonymous_is_sent_to_login(client, item, url_name):
    url = (
        review_url(item)
        if url_name == "review"
        else reverse(f"admin:clipanalysis_reviewitem_{url_name}")
    )
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_non_staff_user_with_the_permissions_is_kept_out(item):
    user = User.objects.create_user("nina", "nina@example.com", "pass-pass-123")
    user.groups.add(Group.objects.get(name="Reviewers"))
    client = logged_in(user)
    for url in (CHANGELIST, review_url(item), DASHBOARD):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login"))
    client.post(review_url(item), {"decision": "match"})
    assert not Verdict.objects.exists()


def test_staff_without_queue_permission_gets_403(item):
    user = User.objects.create_user("sam", "sam@example.com", "pass-pass-123", is_staff=True)
    client = logged_in(user)
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(review_url(item)).status_code == 403
    assert client.get(DASHBOARD).status_code == 403
    assert client.post(review_url(item), {"decision": "match"}).status_code == 403
    assert not Verdict.objects.exists()


# --- who may record verdicts ----------------------------------------------------
def test_anonymous_post_records_nothing(client, item):
    response = client.post(review_url(item), {"decision": "match"})
    assert response.status_code == 302
    assert not Verdict.objects.exists()


def test_viewer_sees_the_item_but_cannot_record_or_claim(viewer, item):
    client = logged_in(viewer)
    page = client.get(review_url(item))
    assert page.status_code == 200
    assert 'value="match"' not in page.content.decode()
    assert client.post(review_url(item), {"decision": "match"}).status_code == 403
    assert client.post(NEXT).status_code == 403
    item.refresh_from_db()
    assert item.state == ReviewItem.State.OPEN
    assert not Verdict.objects.exists()


def test_viewer_is_not_offered_bulk_verdicts(viewer, item):
    client = logged_in(viewer)
    html = client.get(CHANGELIST).content.decode()
    assert "mark_match" not in html
    assert "Start reviewing" not in html
    response = client.post(
        CHANGELIST, {"action": "mark_match", "_selected_action": [item.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302)
    assert not Verdict.objects.exists()


def test_nobody_deletes_review_items_or_verdicts_in_admin(admin_user, item):
    review.record_verdict(item, reviewer=admin_user, decision="match")
    client = logged_in(admin_user)
    verdict = Verdict.objects.get()
    assert (
        client.get(reverse("admin:clipanalysis_reviewitem_delete", args=[item.pk])).status_code
        == 403
    )
    assert (
        client.get(reverse("admin:clipanalysis_verdict_delete", args=[verdict.pk])).status_code
        == 403
    )
    assert client.get(reverse("admin:clipanalysis_verdict_add")).status_code == 403


# --- CSRF -----------------------------------------------------------------------
def test_verdict_without_csrf_token_is_refused(reviewer, item):
    client = logged_in(reviewer, enforce_csrf_checks=True)
    response = client.post(review_url(item), {"decision": "match"})
    assert response.status_code == 403
    assert not Verdict.objects.exists()
    assert client.post(NEXT).status_code == 403


def test_verdict_with_the_pages_csrf_token_is_accepted(reviewer, item):
    client = logged_in(reviewer, enforce_csrf_checks=True)
    page = client.get(review_url(item)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(review_url(item), {"decision": "match", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Verdict.objects.get().decision == "match"
