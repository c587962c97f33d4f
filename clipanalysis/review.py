"""The review queue: the one writer of ``ReviewItem`` and ``Verdict``.

``sync_review_item`` keeps an image's queue entry in step with its current
analysis; ``record_verdict`` and ``correct_description`` store a reviewer's
decision (append-only); ``claim_item``, ``release_item`` and ``next_item_for``
move a reviewer through the queue. Views, admin and API call only these
functions and show a ``ReviewError``'s message to the user.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import Product
from clipanalysis.access_groups import ensure_group
from clipanalysis.models import AnalysisResult, ReviewItem, Verdict
from clipanalysis.settled_flags import closing_reason, unsettled_reasons
from clipanalysis.vocabularies import conflict_reasons

Reason = ReviewItem.Reason
State = ReviewItem.State
Decision = Verdict.Decision

# The limits are the model fields' own; every form, serializer and check reads them here.
DESCRIPTION_MAX_CHARS = Product._meta.get_field("description").max_length
COMMENT_MAX_CHARS = Verdict._meta.get_field("comment").max_length

# What the "Reviewers" group may do: review, never delete products.
REVIEWER_PERMISSIONS = [
    ("catalog", "view_product"),
    ("catalog", "view_productimage"),
    ("clipanalysis", "view_analysisresult"),
    ("clipanalysis", "view_reviewitem"),
    ("clipanalysis", "change_reviewitem"),
    ("clipanalysis", "review_item"),
    ("clipanalysis", "view_verdict"),
    ("clipanalysis", "add_verdict"),
]
REVIEWERS_GROUP = "Reviewers"


class ReviewError(Exception):
    """A review action that cannot be done; ``message`` is fit to show the reviewer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AlreadyResolved(ReviewError):
    """The item was resolved meanwhile (another reviewer, a double click, a re-score)."""

    def __init__(self, item: ReviewItem, verdict: Verdict | None) -> None:
        self.item = item
        self.verdict = verdict
        if verdict is not None:
            who = verdict.reviewer.get_username() if verdict.reviewer else "a deleted user"
            when = timezone.localtime(verdict.created_at).strftime("%Y-%m-%d %H:%M")
            message = (
                f"Review {item.pk} was already resolved by {who} at {when} "
                f"({verdict.get_decision_display()}). Nothing was recorded."
            )
        else:
            reason = item.closed_reason or "closed"
            message = f"Review {item.pk} is already closed ({reason}). Nothing was recorded."
        super().__init__(message)


class AlreadyRecorded(AlreadyResolved):
    """A double click: the same reviewer already recorded exactly this on the item.

    Not a conflict: every surface treats it as done and moves on.
    """


class InvalidVerdict(ReviewError):
    """The verdict itself is malformed: unknown decision, empty or too long text."""


# --- opening and closing (called by the pipeline) -------------------------------
def review_reasons(result: AnalysisResult) -> list[str]:
    """Why a finished result needs a human: mismatch, uncertain score, failed quality, and a
    confident conflict with a stated attribute or the product's category (even when the
    overall score passes)."""
    reasons = []
    if result.is_match is False:
        reasons.append(Reason.MISMATCH)
    band = settings.REVIEW_UNCERTAINTY_BAND
    scored = result.similarity_score is not None and result.threshold is not None
    if scored and abs(result.similarity_score - result.threshold) <= band:
        reasons.append(Reason.UNCERTAIN)
    if result.quality_passed is False:
        reasons.append(Reason.QUALITY)
    reasons.extend(conflict_reasons(result))
    return [str(reason) for reason in reasons]


def review_priority(result: AnalysisResult) -> float:
    """Most informative first: the closer to the threshold, the smaller."""
    if result.similarity_score is None or result.threshold is None:
        return 1.0
    return round(abs(result.similarity_score - result.threshold), 6)


def sync_review_item(result: AnalysisResult) -> ReviewItem | None:
    """Open, update or auto-close the image's review item for its current result.

    One open item per image. A re-score that no longer needs a human closes the
    open item with the reason. No item opens for an analysis a reviewer already
    ruled on, nor for a text a reviewer wrote for this very image (a corrected
    description), and what a verdict on the picture settled is not asked again
    (``clipanalysis.settled_flags``). Returns the open item, if any.
    """
    if not result.is_current or result.status != AnalysisResult.Status.DONE:
        return None
    raised = review_reasons(result)
    reasons = unsettled_reasons(result, raised)  # a verdict settles the flags it was shown
    open_item = ReviewItem.objects.open().filter(image_id=result.image_id).first()
    if not reasons:
        if open_item is not None:
            close_item(open_item, closing_reason(result, raised))
        return None
    fields = {
        "result": result,
        "reasons": reasons,
        "primary_reason": reasons[0],
        "priority": review_priority(result),
    }
    if open_item is not None:
        for name, value in fields.items():
            setattr(open_item, name, value)
        open_item.save(update_fields=list(fields))
        return open_item
    if _already_ruled(result):
        return None
    try:
        with transaction.atomic():
            return ReviewItem.objects.create(image_id=result.image_id, **fields)
    except IntegrityError:  # opened concurrently
        return ReviewItem.objects.open().filter(image_id=result.image_id).first()


def _already_ruled(result: AnalysisResult) -> bool:
    verdicts = Verdict.objects.filter(review_item__image_id=result.image_id)
    return verdicts.filter(
        Q(result=result)
        | Q(
            corrected_description=result.description.strip(),
            result__image_hash=result.image_hash,
        )
    ).exists()


def close_item(item: ReviewItem, reason: str) -> None:
    item.state = State.RESOLVED
    item.resolved_at = timezone.now()
    item.closed_reason = reason[:255]
    item.save(update_fields=["state", "resolved_at", "closed_reason"])


# --- verdicts -------------------------------------------------------------------
def record_verdict(
    item: ReviewItem,
    *,
    reviewer,
    decision: str,
    corrected_description: str = "",
    comment: str = "",
) -> Verdict:
    """Record a reviewer's decision on an open item and resolve it.

    The item row is locked for the check-and-write, so a double click or a
    second reviewer gets ``AlreadyResolved`` instead of a duplicate verdict.
    ``corrected_description`` is only stored here; ``correct_description``
    also updates the product.
    """
    if decision not in Decision.values:
        choices = ", ".join(Decision.values)
        raise InvalidVerdict(f"Unknown decision {decision!r}; choose one of {choices}.")
    corrected = _check_text(corrected_description, "corrected description", DESCRIPTION_MAX_CHARS)
    comment = _check_text(comment, "comment", COMMENT_MAX_CHARS)
    with transaction.atomic():
        return _write_verdict(item, reviewer, decision, corrected, comment)


def correct_description(item: ReviewItem, *, reviewer, text: str, comment: str = "") -> Verdict:
    """Replace the product's description with the reviewer's text, and re-score.

    1. check the text: not empty, at most 5,000 characters, not the scored text;
    2. record a "mismatch" verdict carrying the new text (the export writes the
       old text as a mismatch and the new one as a match) and resolve the item;
    3. save the product: its post_save signal re-scores every image after
       commit. No item reopens for the new text on this image (see
       ``sync_review_item``): a reviewer has just ruled on it.
    """
    text = _check_text(text, "corrected description", DESCRIPTION_MAX_CHARS)
    if not text:
        raise InvalidVerdict("The corrected description is empty; write the text the image shows.")
    comment = _check_text(comment, "comment", COMMENT_MAX_CHARS)
    with transaction.atomic():
        product = item.image.product
        if text == item.result.description.strip():
            raise InvalidVerdict(
                "The corrected description is the text that was scored; "
                "record Match or Mismatch instead."
            )
        verdict = _write_verdict(item, reviewer, Decision.MISMATCH, text, comment)
        product.description = text
        product.save(update_fields=["description", "updated_at"])
    return verdict


def _check_text(text: str | None, what: str, limit: int) -> str:
    text = (text or "").strip()
    if len(text) > limit:
        raise InvalidVerdict(
            f"The {what} is {len(text):,} characters long; the limit is {limit:,}."
        )
    return text


def _write_verdict(
    item: ReviewItem, reviewer, decision: str, corrected: str, comment: str
) -> Verdict:
    """Lock, check, append the verdict and resolve the item (inside ``atomic``)."""
    locked = ReviewItem.objects.select_for_update().get(pk=item.pk)
    if locked.state == State.RESOLVED:
        latest = locked.latest_verdict
        if is_own_repeat(latest, reviewer, decision, corrected):
            raise AlreadyRecorded(locked, latest)
        raise AlreadyResolved(locked, latest)
    verdict = Verdict.objects.create(
        review_item=locked,
        result_id=locked.result_id,
        decision=decision,
        corrected_description=corrected,
        comment=comment,
        reviewer=reviewer,
    )
    locked.state = State.RESOLVED
    locked.assigned_to = reviewer
    locked.resolved_at = verdict.created_at
    locked.closed_reason = f"Verdict: {verdict.get_decision_display()}"[:255]
    locked.save(update_fields=["state", "assigned_to", "resolved_at", "closed_reason"])
    for name in ("state", "assigned_to", "resolved_at", "closed_reason", "result_id"):
        setattr(item, name, getattr(locked, name))
    return verdict


def is_own_repeat(verdict: Verdict | None, reviewer, decision: str, corrected: str) -> bool:
    """The same reviewer already recorded exactly this (a double click, a resent request)."""
    return (
        verdict is not None
        and reviewer is not None
        and verdict.reviewer_id == reviewer.pk
        and verdict.decision == decision
        and verdict.corrected_description == corrected
    )


# --- moving through the queue ---------------------------------------------------
def claim_item(item: ReviewItem, reviewer) -> ReviewItem:
    """Mark an open item as being reviewed by ``reviewer`` (taking it over if need be)."""
    updated = (
        ReviewItem.objects.open()
        .filter(pk=item.pk)
        .update(state=State.IN_REVIEW, assigned_to=reviewer)
    )
    item.refresh_from_db()
    if not updated:
        raise AlreadyResolved(item, item.latest_verdict)
    return item


def release_item(item: ReviewItem, reviewer) -> None:
    """Put an item the reviewer skips back into the queue for anyone."""
    ReviewItem.objects.filter(pk=item.pk, state=State.IN_REVIEW, assigned_to=reviewer).update(
        state=State.OPEN, assigned_to=None
    )


def review_queue(reviewer=None):
    """Open items in queue order (closest to the threshold, then newest).

    With a reviewer, items another reviewer is working on are left out.
    """
    items = ReviewItem.objects.open().in_queue_order()
    if reviewer is not None:
        items = items.filter(
            Q(state=State.OPEN) | Q(assigned_to=reviewer) | Q(assigned_to__isnull=True)
        )
    return items


def next_item_for(reviewer, after: ReviewItem | None = None) -> ReviewItem | None:
    """The next item for this reviewer in queue order, or None when the queue is empty.

    With ``after``, the first item that comes after it in queue order, else the
    first from the top (never ``after`` itself): skipping moves on, and a
    reviewer who reaches the end starts again at the top.
    """
    queue = review_queue(reviewer)
    if after is None:
        return queue.first()
    queue = queue.exclude(pk=after.pk)
    return queue.after_in_queue(after).first() or queue.first()


def latest_verdicts_for_image(image_id: int):
    """The image's verdict history, newest first (the first one counts)."""
    return (
        Verdict.objects.filter(review_item__image_id=image_id)
        .select_related("reviewer", "result")
        .newest_first()
    )


# --- the Reviewers group --------------------------------------------------------
def ensure_reviewers_group(apps=global_apps):
    """Create the "Reviewers" group with its permissions (also used by the migration)."""
    return ensure_group(REVIEWERS_GROUP, REVIEWER_PERMISSIONS, apps)
