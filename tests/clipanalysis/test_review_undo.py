"""Undo, revise, their history; claims that lapse; assignment; ruled items stay closed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from catalog.models import Product
from clipanalysis import review
from clipanalysis.models import ModelVersion, ReviewItem, Verdict, VerdictChange
from clipanalysis.pipeline import request_analysis
from tests.clipanalysis.test_review_queue import finish_analysis, rescore, scored_item
from training.calibration import verdict_labels
from training.export import counted_verdicts, labelled_pairs

pytestmark = pytest.mark.django_db

State = ReviewItem.State


@pytest.fixture
def second_reviewer(reviewer) -> User:
    other = User.objects.create_user("omar", "omar@example.com", "review-pass-456", is_staff=True)
    other.groups.add(*reviewer.groups.all())
    return other


# --- undo -----------------------------------------------------------------------
def test_undo_reopens_the_item_for_the_reviewer_and_keeps_the_verdict_as_history(reviewer):
    item = scored_item(0.10)
    verdict = review.record_verdict(item, reviewer=reviewer, decision="match")

    reopened = review.undo_last_verdict(reviewer)

    assert reopened.pk == item.pk
    assert (reopened.state, reopened.assigned_to) == (State.IN_REVIEW, reviewer)
    assert reopened.resolved_at is None and reopened.latest_verdict is None
    verdict.refresh_from_db()
    assert verdict.is_retracted and verdict.retracted_by == reviewer
    changes = list(VerdictChange.objects.filter(review_item=item).order_by("changed_at", "id"))
    assert [(c.action, c.before, c.after, c.changed_by) for c in changes] == [
        ("recorded", "", "match", reviewer),
        ("undone", "match", "", reviewer),
    ]
    # The reviewer records again: the new verdict counts, the retracted one never.
    again = review.record_verdict(reopened, reviewer=reviewer, decision="mismatch")
    assert list(counted_verdicts()) == [again]


def test_undo_takes_back_the_newest_verdict_first_then_the_one_before(reviewer):
    first, second = scored_item(0.10), scored_item(0.12)
    review.record_verdict(first, reviewer=reviewer, decision="match")
    review.record_verdict(second, reviewer=reviewer, decision="mismatch")
    assert review.undo_last_verdict(reviewer).pk == second.pk
    assert review.undo_last_verdict(reviewer).pk == first.pk
    with pytest.raises(review.NothingToUndo, match="no verdict to undo"):
        review.undo_last_verdict(reviewer)


def test_undo_is_per_reviewer(reviewer, second_reviewer):
    mine, theirs = scored_item(0.10), scored_item(0.12)
    review.record_verdict(mine, reviewer=reviewer, decision="match")
    review.record_verdict(theirs, reviewer=second_reviewer, decision="match")
    assert review.undo_last_verdict(reviewer).pk == mine.pk
    theirs.refresh_from_db()
    assert theirs.state == State.RESOLVED


def test_retracted_verdicts_never_reach_the_export_or_calibration(reviewer):
    kept, mis_keyed = scored_item(0.10), scored_item(0.12, description="Blue ceramic mug")
    review.record_verdict(kept, reviewer=reviewer, decision="mismatch")
    review.record_verdict(mis_keyed, reviewer=reviewer, decision="match")
    review.undo_last_verdict(reviewer)

    assert [pair.image_id for pair in labelled_pairs()] == [kept.image_id]
    assert [key[0] for key in verdict_labels()] == [kept.image_id]
    assert list(Verdict.objects.latest_per_item()) == [kept.latest_verdict]


def test_undoing_a_corrected_description_restores_the_scored_text(reviewer):
    item = scored_item(0.10, description="Red cotton t-shirt with stripes")
    review.correct_description(item, reviewer=reviewer, text="Blue ceramic mug")
    assert Product.objects.get(pk=item.image.product_id).description == "Blue ceramic mug"

    review.undo_last_verdict(reviewer)

    product = Product.objects.get(pk=item.image.product_id)
    assert product.description == "Red cotton t-shirt with stripes"
    assert labelled_pairs() == []


# --- revise ---------------------------------------------------------------------
def test_revise_replaces_the_counting_verdict_and_logs_before_after_and_why(
    reviewer, second_reviewer
):
    item = scored_item(0.10)
    original = review.record_verdict(item, reviewer=reviewer, decision="match")

    revised = review.revise_verdict(
        item, reviewer=second_reviewer, decision="mismatch", reason="The mug is blue, not red"
    )

    assert revised.revises == original and revised.comment == "The mug is blue, not red"
    assert item.latest_verdict == revised
    assert list(counted_verdicts()) == [revised]
    assert [pair.is_match for pair in labelled_pairs()] == [False]
    change = VerdictChange.objects.get(action="revised")
    assert (change.before, change.after, change.changed_by, change.reason) == (
        "match",
        "mismatch",
        second_reviewer,
        "The mug is blue, not red",
    )
    # Undoing the revision lets the original count again; the item stays resolved.
    assert review.undo_last_verdict(second_reviewer).state == State.RESOLVED
    assert list(counted_verdicts()) == [original]


@pytest.mark.parametrize("reason", ["", "   "])
def test_revise_without_a_reason_is_refused(reviewer, reason):
    item = scored_item(0.10)
    review.record_verdict(item, reviewer=reviewer, decision="match")
    with pytest.raises(review.InvalidVerdict, match="reason is required"):
        review.revise_verdict(item, reviewer=reviewer, decision="mismatch", reason=reason)
    assert Verdict.objects.count() == 1


def test_revise_to_the_same_decision_or_without_a_verdict_is_refused(reviewer):
    item = scored_item(0.10)
    with pytest.raises(review.ReviewError, match="no verdict to revise"):
        review.revise_verdict(item, reviewer=reviewer, decision="match", reason="why")
    review.record_verdict(item, reviewer=reviewer, decision="match")
    with pytest.raises(review.InvalidVerdict, match="already Match"):
        review.revise_verdict(item, reviewer=reviewer, decision="match", reason="why")
    assert VerdictChange.objects.filter(action="revised").count() == 0


# --- claims and assignment --------------------------------------------------------
def test_a_lapsed_claim_goes_back_to_the_queue(reviewer, second_reviewer, settings):
    settings.REVIEW_CLAIM_MINUTES = 15
    item = scored_item(0.10)
    review.claim_item(item, reviewer)
    assert item.claim_expires_at > timezone.now() + timedelta(minutes=14)
    assert review.next_item_for(second_reviewer) is None

    ReviewItem.objects.filter(pk=item.pk).update(
        claim_expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert review.next_item_for(second_reviewer) == item
    item.refresh_from_db()
    assert (item.state, item.assigned_to) == (State.OPEN, None)


def test_assigned_items_come_first_for_their_reviewer_and_not_for_others(reviewer, second_reviewer):
    top, assigned = scored_item(0.01), scored_item(0.20)
    assert review.assign_items([assigned], second_reviewer, by=reviewer) == 1
    assert review.next_item_for(second_reviewer) == assigned
    assert review.next_item_for(reviewer) == top
    assert review.next_item_for(reviewer, after=top) is None


def test_assigning_to_someone_who_may_not_review_is_refused():
    item = scored_item(0.10)
    outsider = User.objects.create_user("visitor", "v@example.com", "visitor-pass-1")
    with pytest.raises(review.ReviewError, match="may not review"):
        review.assign_items([item], outsider)
    item.refresh_from_db()
    assert item.assigned_to is None


# --- a verdict settles the flags it was shown -------------------------------------
def rescored_by_new_model(item: ReviewItem, score: float, **kwargs) -> ReviewItem | None:
    """A new model version scores the same picture and text: a new current result."""
    count = ModelVersion.objects.count()
    model = ModelVersion.objects.create(version=f"new-{count}", name_or_path="x", threshold=0.25)
    request_analysis([item.image_id], model_version=model)
    return rescore(item, score, model_version=model, **kwargs)


def test_rescore_with_the_same_outcome_keeps_a_ruled_item_closed(reviewer):
    item = scored_item(0.10, quality_failures=("duplicate",))
    review.record_verdict(item, reviewer=reviewer, decision="match")
    # Another model (or threshold) scores the same picture and text: still a mismatch,
    # still the duplicate guess. The reviewer already ruled on both.
    assert rescored_by_new_model(item, 0.05, quality_failures=("duplicate",)) is None
    assert not ReviewItem.objects.open().exists()


def test_rescore_that_flips_the_decision_reopens(reviewer):
    item = scored_item(0.26)  # uncertain match
    review.record_verdict(item, reviewer=reviewer, decision="match")
    reopened = rescored_by_new_model(item, 0.10)  # now a mismatch: a new question for a human
    assert reopened is not None and reopened.pk != item.pk


def test_rescore_with_a_new_quality_failure_reopens(reviewer):
    item = scored_item(0.10)
    review.record_verdict(item, reviewer=reviewer, decision="match")
    reopened = rescored_by_new_model(item, 0.10, quality_failures=("blur",))
    # Only the new failure is asked: the reviewer already ruled the text a match.
    assert reopened is not None and reopened.reasons == ["quality"]


def test_a_retracted_verdict_settles_nothing(reviewer):
    item = scored_item(0.10)
    review.record_verdict(item, reviewer=reviewer, decision="match")
    review.undo_last_verdict(reviewer)
    review.release_item(item, reviewer)
    image = item.image
    finish_analysis(image, 0.08)
    assert review.sync_review_item(item.result) is not None
