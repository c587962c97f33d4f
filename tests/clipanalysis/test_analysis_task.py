"""The analysis task: claims, leases, idempotency, recovery and duplicates."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clipanalysis import tasks
from clipanalysis.models import AnalysisResult
from clipanalysis.pipeline import claim, request_analysis
from tests.factories import add_image, image_bytes, make_product, photo_like

Status = AnalysisResult.Status
pytestmark = pytest.mark.django_db


def pending_result() -> AnalysisResult:
    """A product saved inside the test transaction: its task is not run (no commit)."""
    product = make_product("Red cotton t-shirt")
    image = add_image(product)
    return AnalysisResult.objects.get(image=image)


def test_rerunning_a_finished_task_is_a_no_op():
    result = pending_result()
    assert tasks.analyse_image(result.pk).startswith(("Match", "Mismatch"))
    finished_at = AnalysisResult.objects.get(pk=result.pk).finished_at

    assert tasks.analyse_image(result.pk).startswith("skipped")
    assert AnalysisResult.objects.get(pk=result.pk).finished_at == finished_at
    assert AnalysisResult.objects.count() == 1


def test_only_one_worker_can_claim_a_row():
    result = pending_result()
    assert claim(result.pk)  # its lease token
    assert claim(result.pk) is None  # another process got there first
    assert tasks.analyse_image(result.pk).startswith("skipped")


def test_an_expired_lease_can_be_claimed_again():
    result = pending_result()
    assert claim(result.pk)
    AnalysisResult.objects.filter(pk=result.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert tasks.analyse_image(result.pk).startswith(("Match", "Mismatch"))
    result.refresh_from_db()
    assert result.status == Status.DONE and result.attempts == 2


def test_recover_stuck_requeues_expired_leases_and_fails_exhausted_rows(settings):
    settings.ANALYSIS_MAX_ATTEMPTS = 2
    stuck = pending_result()
    exhausted = pending_result()
    past = timezone.now() - timedelta(seconds=5)
    AnalysisResult.objects.filter(pk=stuck.pk).update(
        status=Status.RUNNING, lease_expires_at=past, attempts=1
    )
    AnalysisResult.objects.filter(pk=exhausted.pk).update(
        status=Status.RUNNING, lease_expires_at=past, attempts=2
    )

    outcome = tasks.recover_stuck()  # sync mode: re-enqueued work runs right away

    assert outcome == {"failed": 1, "requeued": 1}
    stuck.refresh_from_db()
    exhausted.refresh_from_db()
    assert stuck.status == Status.DONE
    assert exhausted.status == Status.FAILED
    assert "Gave up after 2 attempts" in exhausted.error


def test_recover_stuck_leaves_fresh_work_alone():
    result = pending_result()
    assert claim(result.pk)
    assert tasks.recover_stuck() == {"failed": 0, "requeued": 0}
    result.refresh_from_db()
    assert result.status == Status.RUNNING


def test_failed_rows_are_retried_only_on_request():
    result = pending_result()
    AnalysisResult.objects.filter(pk=result.pk).update(status=Status.FAILED, error="boom")
    request_analysis([result.image_id])
    assert AnalysisResult.objects.get(pk=result.pk).status == Status.FAILED
    request_analysis([result.image_id], retry_failed=True)
    assert AnalysisResult.objects.get(pk=result.pk).status == Status.PENDING


def test_exact_duplicate_of_another_products_image_is_flagged():
    data = image_bytes(photo_like(7))
    first = add_image(make_product("Lamp"), data)
    second = add_image(make_product("Other lamp"), data)
    for image in (first, second):
        tasks.analyse_image(AnalysisResult.objects.get(image=image).pk)
    result = AnalysisResult.objects.get(image=second)
    assert result.duplicate_of_id == first.pk
    assert result.duplicate_distance == 0
    assert "duplicate" in result.quality_failures


def test_near_duplicate_is_found_with_hamming_tolerance():
    original = photo_like(3)
    first = add_image(make_product("Chair"), image_bytes(original, quality=95))
    tasks.analyse_image(AnalysisResult.objects.get(image=first).pk)
    second = add_image(make_product("Chair copy"), image_bytes(original, quality=40))
    unrelated = add_image(make_product("Watch"), image_bytes(photo_like(99)))
    for image in (second, unrelated):
        tasks.analyse_image(AnalysisResult.objects.get(image=image).pk)

    near = AnalysisResult.objects.get(image=second)
    assert near.duplicate_of_id == first.pk
    assert AnalysisResult.objects.get(image=unrelated).duplicate_of_id is None


def test_images_of_the_same_product_are_not_duplicates_of_each_other():
    product = make_product("Bottle")
    data = image_bytes(photo_like(5))
    add_image(product, data)
    second = add_image(product, data)
    tasks.analyse_image(AnalysisResult.objects.get(image=second).pk)
    assert AnalysisResult.objects.get(image=second).duplicate_of_id is None
