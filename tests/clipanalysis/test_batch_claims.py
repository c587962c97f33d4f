"""A worker's wake-up scores a batch: the named row plus other pending rows it claims.

Bulk imports get batch throughput without the caller doing anything, and the
guarantees of one row per claim still hold: no row is held twice, rows another
worker holds (or another model version's, or out of attempts) are left alone.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from clipanalysis import leases, pipeline, registry, tasks
from clipanalysis.models import AnalysisResult
from tests.factories import add_image, image_bytes, make_product, photo_like

Status = AnalysisResult.Status


def pending_rows(count: int) -> list[AnalysisResult]:
    """Saved products whose tasks do not run (the test transaction never commits)."""
    return [
        AnalysisResult.objects.get(image=add_image(make_product(f"Red cotton t-shirt {n}")))
        for n in range(count)
    ]


def statuses(rows: list[AnalysisResult]) -> list[str]:
    by_pk = dict(AnalysisResult.objects.values_list("pk", "status"))
    return [by_pk[row.pk] for row in rows]


@pytest.mark.django_db
def test_one_wake_up_scores_up_to_a_batch_of_pending_rows(settings, batches):
    settings.CLIP_BATCH_SIZE = 4
    rows = pending_rows(6)
    sizes = batches

    assert tasks.analyse_image(rows[0].pk).startswith(("Match", "Mismatch"))
    assert sizes == [4]  # the named row and the three oldest other pending rows
    assert statuses(rows) == [Status.DONE] * 4 + [Status.PENDING] * 2

    # The wake-ups of rows already scored in that batch return at once.
    assert all(tasks.analyse_image(row.pk).startswith("skipped") for row in rows[1:4])
    assert tasks.analyse_image(rows[5].pk).startswith(("Match", "Mismatch"))
    assert sizes == [4, 2]
    assert statuses(rows) == [Status.DONE] * 6
    assert AnalysisResult.objects.filter(is_current=True).count() == 6
    assert set(AnalysisResult.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db
def test_batch_mates_exclude_held_rows_other_versions_and_exhausted_rows(
    settings, monkeypatch, other_clip_dir
):
    settings.CLIP_BATCH_SIZE = 10
    settings.ANALYSIS_MAX_ATTEMPTS = 3
    named, held, exhausted, lapsed, other_version, free = pending_rows(6)
    token = pipeline.claim(held.pk)  # another worker's live lease
    AnalysisResult.objects.filter(pk=exhausted.pk).update(attempts=3)
    AnalysisResult.objects.filter(pk=lapsed.pk).update(
        status=Status.RUNNING, lease_owner="dead", lease_expires_at=timezone.now() - timedelta(1)
    )
    newer = registry.register_model(other_clip_dir)
    AnalysisResult.objects.filter(pk=other_version.pk).update(model_version=newer)

    tasks.analyse_image(named.pk)

    after = {row.pk: row for row in AnalysisResult.objects.all()}
    assert after[named.pk].status == after[free.pk].status == Status.DONE
    assert after[held.pk].status == Status.RUNNING and after[held.pk].lease_owner == token
    assert after[exhausted.pk].status == Status.PENDING and after[exhausted.pk].attempts == 3
    assert after[lapsed.pk].status == Status.RUNNING  # the sweeper's, not a batch mate's
    assert after[other_version.pk].status == Status.PENDING


@pytest.mark.django_db
def test_a_bad_image_fails_alone_in_its_batch(settings):
    settings.CLIP_BATCH_SIZE = 8
    good = pending_rows(2)
    broken = add_image(make_product("Blue mug"), image_bytes(photo_like(4)))
    with open(broken.image.path, "wb") as handle:
        handle.write(b"not an image any more")
    broken_row = AnalysisResult.objects.get(image=broken)

    outcome = tasks.analyse_image(broken_row.pk)

    assert outcome.startswith("failed: ")
    assert statuses([*good, broken_row]) == [Status.DONE, Status.DONE, Status.FAILED]


@pytest.mark.django_db
def test_claim_pending_hands_each_row_to_one_claimer(settings):
    rows = pending_rows(5)
    version = rows[0].model_version_id

    first = leases.claim_pending(version, 3)
    second = leases.claim_pending(version, 3)

    assert list(first) == [row.pk for row in rows[:3]]  # oldest first
    assert list(second) == [row.pk for row in rows[3:]]
    assert leases.claim_pending(version, 3) == {}
    held = AnalysisResult.objects.filter(status=Status.RUNNING)
    assert held.count() == 5 and {row.lease_owner for row in held} == {
        *first.values(),
        *second.values(),
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_never_share_a_row(monkeypatch):
    """Several threads (each its own connection) claiming at once from one pool."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "the in-memory test database locks tables without a busy timeout; a file "
            "database (BEGIN IMMEDIATE, 20 s timeout) queues the writers instead"
        )
    monkeypatch.setattr(pipeline, "enqueue", lambda ids: None)  # no inline run at commit
    rows = pending_rows(40)
    version = rows[0].model_version_id
    barrier = threading.Barrier(4)
    claimed: list[list[int]] = []
    errors: list[Exception] = []

    def claimer():
        mine: list[int] = []
        try:
            barrier.wait()
            while batch := leases.claim_pending(version, 3):
                mine += batch
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            claimed.append(mine)
            connection.close()

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    every = [pk for mine in claimed for pk in mine]
    assert sorted(every) == sorted(row.pk for row in rows)  # each row exactly once


@pytest.mark.django_db(transaction=True)
def test_postgresql_claims_skip_rows_locked_by_another_worker(monkeypatch):
    """With SKIP LOCKED a second worker takes the next rows at once, without waiting
    for the first worker's transaction."""
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("this backend has no SKIP LOCKED; its conditional UPDATE serialises")
    monkeypatch.setattr(pipeline, "enqueue", lambda ids: None)  # no inline run at commit
    rows = pending_rows(4)
    version = rows[0].model_version_id
    locked = threading.Event()
    release = threading.Event()

    def first_worker():
        try:
            with transaction.atomic():
                list(AnalysisResult.objects.select_for_update().filter(pk__in=[rows[0].pk]))
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=first_worker)
    holder.start()
    try:
        assert locked.wait(30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # blocking would raise, not hang
        taken = leases.claim_pending(version, 2)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    finally:
        release.set()
        holder.join(timeout=30)
    assert list(taken) == [rows[1].pk, rows[2].pk]
