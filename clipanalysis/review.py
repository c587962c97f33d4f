"""The review queue: the one writer of ``ReviewItem``, ``Verdict`` and ``VerdictChange``.

``sync_review_item`` keeps an image's queue entry in step with its current
analysis; ``record_verdict`` and ``correct_description`` store a reviewer's
decision (append-only); ``undo_last_verdict`` retracts the reviewer's newest
verdict and ``revise_verdict`` replaces an item's verdict with a reason (every
change is a ``VerdictChange``: who, when, before, after); ``claim_item``,
``release_item``, ``assign_items`` and ``next_item_for`` move reviewers through
the queue. Views, admin and API call only these functions and show a
``ReviewError``'s message to the user.
"""

from __future__ import annotations

from datetime import timedelta

from django.apps import apps as global_apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import Product
from clipanalysis.access_groups import ensure_group
from clipanalysis.models import AnalysisResult, ReviewItem, Verdict, VerdictChange
from clipanalysis.settled_flags import closing_reason, unsettled_reasons
from clipanalysis.vocabularies import conflict_reasons

Reason = ReviewItem.Reason
State = ReviewItem.State
Decision = Verdict.Decision
Action = VerdictChange.Action

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


class NothingToUndo(ReviewError):
    """The reviewer has no standing verdict to undo."""


# Blocking quality failures that are facts, not guesses: measured against a limit.
# "duplicate" is a perceptual-hash guess unless the distance is 0 (the same picture).
GUESSED_QUALITY_FAILURES = frozenset({"duplicate"})


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


def review_priority(result: AnalysisResult) -> tuple[float, float]:
    """``(priority, uncertainty)``: the sort keys of the two queue orders, smaller first.

    ``priority`` puts the most likely real problems first. It is on the P(match)
    scale: the calibrated match probability when the model has one, else the
    margin below the threshold mapped onto [0, 1] (0.5 + margin / 2: 0.5 at the
    threshold, lower the further below). A measured blocking quality failure (or
    an exact re-use of another product's picture) is a certain problem: 0.
    ``uncertainty`` (uncertainty sampling) is the score's distance from the threshold.
    """
    score, threshold = result.similarity_score, result.threshold
    if score is None or threshold is None:
        return 1.0, 1.0
    margin = score - threshold
    if result.match_probability is not None:
        likelihood = result.match_probability
    else:
        likelihood = min(1.0, max(0.0, 0.5 + margin / 2))
    if _has_certain_quality_failure(result):
        likelihood = 0.0
    return round(likelihood, 6), round(abs(margin), 6)


def _has_certain_quality_failure(result: AnalysisResult) -> bool:
    failures = set(result.quality_failures or [])
    if result.duplicate_of_id is not None and result.duplicate_distance == 0:
        return True
    return bool(failures - GUESSED_QUALITY_FAILURES)


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
    priority, uncertainty = review_priority(result)
    fields = {
        "result": result,
        "reasons": reasons,
        "primary_reason": reasons[0],
        "priority": priority,
        "uncertainty": uncertainty,
    }
    if open_item is not None:
        for name, value in fields.items():
            setattr(open_item, name, value)
        open_item.save(update_fields=list(fields))
        return open_item
    if already_ruled(result):
        return None
    try:
        with transaction.atomic():
            return ReviewItem.objects.create(image_id=result.image_id, **fields)
    except IntegrityError:  # opened concurrently
        return ReviewItem.objects.open().filter(image_id=result.image_id).first()


def already_ruled(result: AnalysisResult) -> bool:
    """A reviewer ruled on this very analysis, or wrote this text for this picture (a
    corrected description): nothing to open. What a verdict on an earlier analysis of
    the same picture settled is ``settled_flags.unsettled_reasons``' question."""
    return (
        Verdict.objects.standing()
        .filter(review_item__image_id=result.image_id, result__image_hash=result.image_hash)
        .filter(Q(result=result) | Q(corrected_description=result.description.strip()))
        .exists()
    )


def refresh_priorities(model_version=None) -> int:
    """Recompute open items' sort keys (after a calibration changed P(match)); how many."""
    items = ReviewItem.objects.open().select_related("result")
    if model_version is not None:
        items = items.filter(result__model_version=model_version)
    changed = []
    for item in items.iterator(chunk_size=500):
        keys = review_priority(item.result)
        if keys != (item.priority, item.uncertainty):
            item.priority, item.uncertainty = keys
            changed.append(item)
    return ReviewItem.objects.bulk_update(changed, ["priority", "uncertainty"], batch_size=500)


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
        return _write_verdict(item, reviewer, decision, corrected, comment)[0]


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
        verdict = _write_verdict(
            item, reviewer, Decision.MISMATCH, text, comment, action=Action.CORRECTED
        )[0]
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
    item: ReviewItem,
    reviewer,
    decision: str,
    corrected: str,
    comment: str,
    *,
    action: str = Action.RECORDED,
) -> tuple[Verdict, ReviewItem]:
    """Lock, check, append the verdict and its history, resolve the item (inside ``atomic``)."""
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
    _log_change(locked, verdict, action, before="", after=decision, by=reviewer, reason=comment)
    locked.state = State.RESOLVED
    locked.assigned_to = reviewer
    locked.claim_expires_at = None
    locked.resolved_at = verdict.created_at
    locked.closed_reason = f"Verdict: {verdict.get_decision_display()}"[:255]
    locked.save(
        update_fields=["state", "assigned_to", "claim_expires_at", "resolved_at", "closed_reason"]
    )
    _copy_state(locked, item)
    return verdict, locked


ITEM_STATE_FIELDS = (
    "state",
    "assigned_to",
    "claim_expires_at",
    "resolved_at",
    "closed_reason",
    "result_id",
)


def _copy_state(source: ReviewItem, target: ReviewItem) -> None:
    for name in ITEM_STATE_FIELDS:
        setattr(target, name, getattr(source, name))


def _log_change(
    item: ReviewItem, verdict: Verdict, action: str, *, before: str, after: str, by, reason: str
) -> VerdictChange:
    return VerdictChange.objects.create(
        review_item=item,
        verdict=verdict,
        action=action,
        before=before,
        after=after,
        reason=reason,
        changed_by=by,
    )


# --- undo and revise --------------------------------------------------------------
def undo_last_verdict(reviewer) -> ReviewItem:
    """Retract the reviewer's newest standing verdict; return the item it was on.

    1. lock the verdict and its item; mark the verdict retracted (kept, never
       deleted; it no longer counts: not in the export, calibration or queue);
    2. log the change (before: the retracted decision, after: what counts now);
    3. a corrected description is taken back: the product gets the scored text
       again, unless the catalog has changed the description since;
    4. if no other verdict stands on the item, it reopens, claimed by the
       reviewer, so that they land on it again (unless the image has another
       open item meanwhile); else the earlier verdict counts again.
    Undoing again undoes the verdict before (an undo stack per reviewer).
    """
    if reviewer is None or not reviewer.is_authenticated:
        raise NothingToUndo("Only a signed-in reviewer can undo their verdicts.")
    with transaction.atomic():
        verdict = (
            Verdict.objects.select_for_update()
            .standing()
            .filter(reviewer=reviewer)
            .select_related("result")
            .newest_first()
            .first()
        )
        if verdict is None:
            raise NothingToUndo("You have no verdict to undo.")
        item = ReviewItem.objects.select_for_update().get(pk=verdict.review_item_id)
        verdict.retracted_at = timezone.now()
        verdict.retracted_by = reviewer
        verdict.save(update_fields=["retracted_at", "retracted_by"])
        standing = item.latest_verdict
        _log_change(
            item,
            verdict,
            Action.UNDONE,
            before=verdict.decision,
            after=standing.decision if standing else "",
            by=reviewer,
            reason="Undone by the reviewer" if verdict.reviewer_id == reviewer.pk else "",
        )
        if standing is not None:
            item.closed_reason = f"Verdict: {standing.get_decision_display()}"[:255]
            item.save(update_fields=["closed_reason"])
        elif not ReviewItem.objects.open().filter(image_id=item.image_id).exists():
            _reopen(item, reviewer)
        _take_back_correction(verdict)
    current = AnalysisResult.objects.current().filter(image_id=item.image_id).first()
    if item.state != State.RESOLVED and current is not None and current.pk != item.result_id:
        sync_review_item(current)
        item.refresh_from_db()
    return item


def _reopen(item: ReviewItem, reviewer) -> None:
    item.state = State.IN_REVIEW
    item.assigned_to = reviewer
    item.claim_expires_at = claim_deadline()
    item.resolved_at = None
    item.closed_reason = ""
    item.save(
        update_fields=["state", "assigned_to", "claim_expires_at", "resolved_at", "closed_reason"]
    )


def _take_back_correction(verdict: Verdict) -> None:
    corrected = verdict.corrected_description.strip()
    if not corrected:
        return
    product = Product.objects.select_for_update().get(pk=verdict.result.image.product_id)
    if product.description.strip() == corrected:
        product.description = verdict.result.description
        product.save(update_fields=["description", "updated_at"])


def revise_verdict(item: ReviewItem, *, reviewer, decision: str, reason: str) -> Verdict:
    """Replace the verdict that counts on a resolved item with another decision, and why.

    The new verdict ``revises`` the old one (both kept; the newest counts) and
    carries the reason as its comment; a corrected description is not carried
    over (a revision says the text was right, or the image is bad). Refused
    without a reason, on an item without a verdict, or with the same decision.
    """
    if decision not in Decision.values:
        choices = ", ".join(Decision.values)
        raise InvalidVerdict(f"Unknown decision {decision!r}; choose one of {choices}.")
    reason = _check_text(reason, "reason", COMMENT_MAX_CHARS)
    if not reason:
        raise InvalidVerdict("Say why you revise the verdict: the reason is required.")
    with transaction.atomic():
        locked = ReviewItem.objects.select_for_update().get(pk=item.pk)
        standing = locked.latest_verdict
        if standing is None:
            raise ReviewError(
                f"Review {locked.pk} has no verdict to revise; record one on the review page."
            )
        if standing.decision == decision:
            raise InvalidVerdict(
                f"Review {locked.pk} is already {standing.get_decision_display()}; "
                "nothing to revise."
            )
        verdict = Verdict.objects.create(
            review_item=locked,
            result_id=standing.result_id,
            decision=decision,
            comment=reason,
            reviewer=reviewer,
            revises=standing,
        )
        _log_change(
            locked,
            verdict,
            Action.REVISED,
            before=standing.decision,
            after=decision,
            by=reviewer,
            reason=reason,
        )
        locked.closed_reason = f"Verdict: {verdict.get_decision_display()} (revised)"[:255]
        locked.save(update_fields=["closed_reason"])
    _copy_state(locked, item)
    return verdict


def last_undoable_verdict(reviewer) -> Verdict | None:
    """The verdict ``undo_last_verdict`` would retract (for the Undo button's label)."""
    if reviewer is None or not reviewer.is_authenticated:
        return None
    return (
        Verdict.objects.standing()
        .filter(reviewer=reviewer)
        .select_related("review_item__image__product")
        .newest_first()
        .first()
    )


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
def claim_deadline():
    return timezone.now() + timedelta(minutes=settings.REVIEW_CLAIM_MINUTES)


def claim_item(item: ReviewItem, reviewer) -> ReviewItem:
    """Mark an open item as being reviewed by ``reviewer`` (taking it over if need be).

    The claim lapses after ``REVIEW_CLAIM_MINUTES``; opening the item again renews it.
    """
    updated = (
        ReviewItem.objects.open()
        .filter(pk=item.pk)
        .update(state=State.IN_REVIEW, assigned_to=reviewer, claim_expires_at=claim_deadline())
    )
    item.refresh_from_db()
    if not updated:
        raise AlreadyResolved(item, item.latest_verdict)
    return item


def release_item(item: ReviewItem, reviewer) -> None:
    """Put an item the reviewer skips back into the queue for anyone."""
    ReviewItem.objects.filter(pk=item.pk, state=State.IN_REVIEW, assigned_to=reviewer).update(
        state=State.OPEN, assigned_to=None, claim_expires_at=None
    )


def expire_claims(now=None) -> int:
    """Claims nobody renewed in time go back to the queue ("in review" by who left)."""
    return ReviewItem.objects.filter(
        state=State.IN_REVIEW, claim_expires_at__lte=now or timezone.now()
    ).update(state=State.OPEN, assigned_to=None, claim_expires_at=None)


def assign_items(items, assignee, *, by=None) -> int:
    """Assign open items to a reviewer: they wait in that reviewer's "my items".

    Resolved items are left alone; an assignee without the review permission is refused.
    """
    if assignee is not None and not (
        assignee.is_active and assignee.has_perm("clipanalysis.review_item")
    ):
        raise ReviewError(f"{assignee.get_username()} may not review; assign to a reviewer.")
    pks = [item.pk for item in items]
    return (
        ReviewItem.objects.open()
        .filter(pk__in=pks)
        .update(state=State.OPEN, assigned_to=assignee, claim_expires_at=None)
    )


def review_queue(reviewer=None, order: str | None = None):
    """Open items in queue order (``REVIEW_QUEUE_ORDER`` unless ``order`` says otherwise).

    Lapsed claims are released first. With a reviewer, items assigned to or
    being reviewed by another reviewer are left out.
    """
    expire_claims()
    items = ReviewItem.objects.open().in_queue_order(order)
    if reviewer is not None:
        items = items.filter(Q(assigned_to=reviewer) | Q(assigned_to__isnull=True))
    return items


def next_item_for(
    reviewer, after: ReviewItem | None = None, order: str | None = None
) -> ReviewItem | None:
    """The next item for this reviewer in queue order, or None when the queue is empty.

    Items assigned to the reviewer come first, then everyone's. With ``after``,
    the first item that comes after it in queue order, else the first from the
    top (never ``after`` itself): skipping moves on, and a reviewer who reaches
    the end starts again at the top.
    """
    queue = review_queue(reviewer, order)
    if after is not None:
        queue = queue.exclude(pk=after.pk)
    mine = queue.filter(assigned_to=reviewer) if reviewer is not None else queue.none()
    if after is not None:
        found = (
            mine.after_in_queue(after, order).first() or queue.after_in_queue(after, order).first()
        )
        if found is not None:
            return found
    return mine.first() or queue.first()


def latest_verdicts_for_image(image_id: int):
    """The image's verdict history, newest first (the first standing one counts)."""
    return (
        Verdict.objects.filter(review_item__image_id=image_id)
        .select_related("reviewer", "result", "retracted_by")
        .newest_first()
    )


def changes_for_image(image_id: int):
    """Every verdict change on the image's items, newest first: who, when, before, after."""
    return (
        VerdictChange.objects.filter(review_item__image_id=image_id)
        .select_related("changed_by", "verdict")
        .order_by("-changed_at", "-id")
    )


# --- the Reviewers group --------------------------------------------------------
def ensure_reviewers_group(apps=global_apps):
    """Create the "Reviewers" group with its permissions (also used by the migration)."""
    return ensure_group(REVIEWERS_GROUP, REVIEWER_PERMISSIONS, apps)
