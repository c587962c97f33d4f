"""manage.py score_catalog: chunks, selections, interrupt and resume, fan-out."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from clipanalysis import pipeline
from clipanalysis.models import AnalysisResult
from tests.factories import add_image, image_bytes, make_product, photo_like

pytestmark = pytest.mark.django_db
Status = AnalysisResult.Status


@pytest.fixture
def catalog(scoring_model):
    """Five products with one image each; their results pending (saved, not yet scored)."""
    images = []
    for n in range(5):
        product = make_product(f"Product {n}", category="mug" if n < 2 else "t-shirt")
        images.append(add_image(product, image_bytes(photo_like(20 + n, (320, 320)))))
    return images


def score(*args):
    out, err = StringIO(), StringIO()
    call_command("score_catalog", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def statuses():
    return list(
        AnalysisResult.objects.current().order_by("image_id").values_list("status", flat=True)
    )


def test_scores_stale_images_in_chunks_with_a_progress_bar(catalog, batches):
    out, err = score("--batch-size", "2")
    assert batches == [2, 2, 1]
    assert statuses() == [Status.DONE] * 5
    assert "5 images: 5 scored, 0 failed" in out
    assert "img/s" in err and "5/5" in err


def test_a_second_run_finds_nothing_stale_and_all_keeps_finished_results(catalog, batches):
    score("--batch-size", "2")
    finished = list(AnalysisResult.objects.order_by("pk").values_list("finished_at", flat=True))
    out, _ = score("--stale", "--no-progress")
    assert out.startswith("0 images")
    out, _ = score("--all", "--no-progress")
    assert "5 already up to date" in out
    assert batches == [2, 2, 1]  # nothing computed again
    assert list(AnalysisResult.objects.order_by("pk").values_list("finished_at", flat=True)) == (
        finished
    )


def test_interrupted_runs_keep_what_was_written_and_resume(catalog, monkeypatch):
    real = pipeline.compute_many
    calls = []

    def interrupted_second_time(results):
        calls.append(len(results))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(results)

    monkeypatch.setattr(pipeline, "compute_many", interrupted_second_time)
    with pytest.raises(CommandError, match="Interrupted"):
        score("--batch-size", "2", "--no-progress")

    first = list(AnalysisResult.objects.current().order_by("image_id"))
    assert [r.status for r in first] == [Status.DONE] * 2 + [Status.PENDING] * 3
    assert all(r.attempts == 0 and r.lease_expires_at is None for r in first[2:])  # given back
    monkeypatch.setattr(pipeline, "compute_many", real)

    out, _ = score("--batch-size", "2", "--no-progress")
    assert "3 images: 3 scored" in out
    resumed = list(AnalysisResult.objects.current().order_by("image_id"))
    assert [r.status for r in resumed] == [Status.DONE] * 5
    assert [r.finished_at for r in resumed[:2]] == [r.finished_at for r in first[:2]]
    assert all(r.attempts == 1 for r in resumed)


def test_failed_images_fail_alone_and_are_retried_with_failed(catalog, batches):
    good_bytes = catalog[3].image.read()
    with open(catalog[3].image.path, "wb") as handle:
        handle.write(b"\xff\xd8\xff damaged")
    out, _ = score("--no-progress")
    assert "4 scored, 1 failed" in out
    assert statuses().count(Status.FAILED) == 1

    with open(catalog[3].image.path, "wb") as handle:
        handle.write(good_bytes)
    out, _ = score("--failed", "--no-progress")
    assert "1 images: 1 scored" in out
    assert statuses() == [Status.DONE] * 5
    assert batches[-1] == 1


def test_category_and_since_narrow_the_run(catalog, batches):
    out, _ = score("--category", "mug", "--no-progress")
    assert "2 images: 2 scored" in out
    future = (timezone.now() + timedelta(days=1)).date().isoformat()
    out, _ = score("--since", future, "--no-progress")
    assert out.startswith("0 images")
    out, _ = score("--since", "2000-01-01", "--no-progress")
    assert "3 images: 3 scored" in out
    with pytest.raises(CommandError, match="not a date"):
        score("--since", "2025-13-45")
    with pytest.raises(CommandError, match="at least 1"):
        score("--batch-size", "0")


def test_enqueue_fans_chunks_out_as_batch_tasks(catalog, batches):
    # django-q2 runs tasks inline in the tests (sync mode): each task is one batch.
    out, _ = score("--enqueue", "--batch-size", "2", "--no-progress")
    assert "5 queued for the workers in 3 tasks" in out
    assert batches == [2, 2, 1]
    assert statuses() == [Status.DONE] * 5


def test_a_row_another_worker_holds_is_skipped_not_scored_twice(catalog, batches):
    held, free = (AnalysisResult.objects.get(image=image) for image in catalog[:2])
    assert pipeline.claim(held.pk)  # another worker has it
    counts = pipeline.analyse_batch([held.pk, free.pk])
    assert counts == {"done": 1, "failed": 0, "skipped": 1, "dropped": 0}
    assert batches == [1]
    held.refresh_from_db()
    assert held.status == Status.RUNNING and held.finished_at is None


def test_a_batch_row_taken_over_mid_batch_is_dropped_and_the_others_written(catalog, monkeypatch):
    """The batch holds one lease per row; a row the sweeper released and another worker
    claimed while the batch ran is not written by this batch (no second result)."""
    first, second = (AnalysisResult.objects.get(image=image) for image in catalog[:2])
    taken_by = {}
    real = pipeline.compute_many

    def taken_over_while_computing(results):
        outcomes = real(results)
        AnalysisResult.objects.filter(pk=first.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        taken_by["token"] = pipeline.claim(first.pk)  # the other worker
        return outcomes

    monkeypatch.setattr(pipeline, "compute_many", taken_over_while_computing)
    counts = pipeline.analyse_batch([first.pk, second.pk])

    assert counts == {"done": 1, "failed": 0, "skipped": 0, "dropped": 1}
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Status.RUNNING and first.lease_owner == taken_by["token"]
    assert first.similarity_score is None
    assert second.status == Status.DONE and second.lease_owner == ""


def test_one_heartbeat_renews_every_lease_of_a_batch(catalog):
    from clipanalysis import leases

    tokens = {}
    for image in catalog[:3]:
        result = AnalysisResult.objects.get(image=image)
        tokens[result.pk] = pipeline.claim(result.pk)
    AnalysisResult.objects.filter(pk__in=tokens).update(lease_expires_at=timezone.now())
    lost = next(iter(tokens))
    AnalysisResult.objects.filter(pk=lost).update(lease_owner="someone-else")

    heartbeat = leases.Heartbeat.for_rows(tokens)
    assert heartbeat.beat() is False and heartbeat.lost.is_set()
    assert lost not in heartbeat.tokens and len(heartbeat.tokens) == 2
    renewed = AnalysisResult.objects.filter(pk__in=heartbeat.tokens)
    assert all(r.lease_expires_at > timezone.now() + timedelta(seconds=5) for r in renewed)
