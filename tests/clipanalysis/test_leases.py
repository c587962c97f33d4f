"""Leases: a takeover after expiry, and what the old holder may no longer do.

The clock is the rows' own ``lease_expires_at``: a lapse is written into the row,
never waited for.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from clipanalysis import leases, pipeline
from clipanalysis.models import AnalysisResult, ReviewItem
from tests.factories import add_image, make_product

Status = AnalysisResult.Status
pytestmark = pytest.mark.django_db


def pending_result(text: str = "Red cotton t-shirt") -> AnalysisResult:
    """A saved product whose task is not run (the test transaction never commits)."""
    return AnalysisResult.objects.get(image=add_image(make_product(text)))


def lapse(result: AnalysisResult) -> None:
    AnalysisResult.objects.filter(pk=result.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )


def row(result: AnalysisResult) -> AnalysisResult:
    return AnalysisResult.objects.get(pk=result.pk)


def test_a_lapsed_lease_is_taken_over_with_a_new_token():
    result = pending_result()
    first = pipeline.claim(result.pk)
    assert pipeline.claim(result.pk) is None  # live: nobody else gets it
    lapse(result)

    second = pipeline.claim(result.pk)

    assert second and second != first
    taken = row(result)
    assert taken.lease_owner == second and taken.attempts == 2
    assert taken.lease_expires_at > timezone.now()


def test_the_old_holder_can_neither_renew_nor_write_after_a_takeover(settings):
    result = pending_result()
    old = pipeline.claim(result.pk)
    lapse(result)
    new = pipeline.claim(result.pk)

    heartbeat = leases.Heartbeat(result.pk, old)
    assert heartbeat.beat() is False and heartbeat.lost.is_set()
    assert pipeline._finish(result, old, {"status": Status.DONE, "is_match": False}) is False

    after = row(result)
    assert after.status == Status.RUNNING and after.lease_owner == new
    assert after.is_match is None and after.finished_at is None
    assert not ReviewItem.objects.exists()  # no review item from the refused write


def test_the_holder_writes_its_result_and_review_item():
    result = pending_result()
    token = pipeline.claim(result.pk)
    fields = {"status": Status.DONE, "is_match": False, "similarity_score": 0.1}

    assert pipeline._finish(result, token, fields) is True

    after = row(result)
    assert after.status == Status.DONE
    assert after.lease_owner == "" and after.lease_expires_at is None
    assert ReviewItem.objects.open().filter(image_id=result.image_id).exists()
    assert leases.renew(result.pk, token) is False  # finished: nothing left to renew


def test_a_worker_whose_lease_was_taken_over_writes_nothing(monkeypatch, scoring_model):
    result = pending_result()
    stolen = {}

    def compute_then_lose_the_lease(results):
        lapse(result)
        stolen["token"] = pipeline.claim(result.pk)  # another worker takes over meanwhile
        return [{"is_match": True, "similarity_score": 0.9}]

    monkeypatch.setattr(pipeline, "compute_many", compute_then_lose_the_lease)

    assert pipeline.analyse(result.pk) == pipeline.LEASE_LOST
    after = row(result)
    assert after.status == Status.RUNNING and after.lease_owner == stolen["token"]
    assert after.similarity_score is None


def test_a_heartbeat_pushes_the_lease_ahead(settings):
    settings.ANALYSIS_LEASE_SECONDS = 30
    result = pending_result()
    token = pipeline.claim(result.pk)
    AnalysisResult.objects.filter(pk=result.pk).update(
        lease_expires_at=timezone.now() + timedelta(seconds=2)
    )

    assert leases.Heartbeat(result.pk, token).beat() is True

    assert row(result).lease_expires_at > timezone.now() + timedelta(seconds=25)


def test_recover_stuck_leaves_a_live_row_alone_and_releases_a_lapsed_one(monkeypatch):
    sent = []
    monkeypatch.setattr(pipeline, "async_task", lambda *args, **kwargs: sent.append(args[1]))
    live, dead = pending_result("Red tee"), pending_result("Blue mug")
    live_token = pipeline.claim(live.pk)
    pipeline.claim(dead.pk)
    lapse(dead)

    assert pipeline.recover_stuck() == {"failed": 0, "requeued": 1}

    assert sent == [dead.pk]
    assert row(live).status == Status.RUNNING and row(live).lease_owner == live_token
    released = row(dead)
    assert released.status == Status.PENDING and released.lease_owner == ""
    # A second sweep (another process's sweeper) finds nothing left to release.
    assert pipeline.recover_stuck() == {"failed": 0, "requeued": 0}


def test_recover_stuck_never_releases_a_lease_renewed_after_it_looked(monkeypatch):
    """The release is conditional: a heartbeat between the sweeper's read and its
    UPDATE wins, and the row stays with its holder."""
    monkeypatch.setattr(pipeline, "async_task", lambda *args, **kwargs: None)
    result = pending_result()
    token = pipeline.claim(result.pk)
    lapse(result)
    looked_at = timezone.now()
    assert leases.renew(result.pk, token)  # the holder's heartbeat lands first

    assert pipeline.recover_stuck(now=looked_at) == {"failed": 0, "requeued": 0}
    assert row(result).lease_owner == token


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_renews_while_the_block_runs(settings, monkeypatch):
    monkeypatch.setattr(pipeline, "enqueue", lambda ids: None)  # no inline run at commit
    settings.ANALYSIS_LEASE_SECONDS = 30
    result = pending_result()
    token = pipeline.claim(result.pk)
    assert token
    AnalysisResult.objects.filter(pk=result.pk).update(lease_expires_at=timezone.now())

    with leases.Heartbeat(result.pk, token, interval=0.01) as heartbeat:
        while heartbeat.beats == 0 and not heartbeat.lost.is_set():
            heartbeat.lost.wait(0.01)

    assert not heartbeat.lost.is_set()
    assert row(result).lease_expires_at > timezone.now() + timedelta(seconds=25)


def test_a_wake_up_lost_with_a_dead_cluster_is_resent_once_the_queue_is_empty(monkeypatch):
    """A killed cluster takes its prefetched wake-ups with it: their rows stay pending.
    They are sent again one lease later when nothing waits in the broker, never while a
    queue is still being worked through."""
    from django_q.brokers import get_broker
    from django_q.models import OrmQ

    sent = []
    monkeypatch.setattr(pipeline, "async_task", lambda *args, **kwargs: sent.append(args[1]))
    result = pending_result()
    AnalysisResult.objects.filter(pk=result.pk).update(
        enqueued_at=timezone.now() - timedelta(seconds=61)
    )
    waiting = OrmQ.objects.create(key=get_broker().list_key, payload="x", lock=timezone.now())

    assert pipeline.recover_stuck() == {"failed": 0, "requeued": 0}  # a queue is waiting
    waiting.delete()
    assert pipeline.recover_stuck() == {"failed": 0, "requeued": 1}
    assert sent == [result.pk]
