"""The review queue: items waiting for a reviewer, reviewers' verdicts and their history.

Review items, verdicts and verdict changes are written only in ``clipanalysis.review``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models import Product, ProductImage
from clipanalysis.models.analyses import AnalysisResult

# The queue orders: the item's key field first (smallest first), then newest, then highest
# id (a total order). "problems": most likely real problems first (``priority``);
# "uncertain": uncertainty sampling, scores closest to the decision first (``uncertainty``).
QUEUE_ORDERS = {"problems": "priority", "uncertain": "uncertainty"}
DEFAULT_QUEUE_ORDER = "problems"
QUEUE_ORDER = ("priority", "-opened_at", "-id")
# Verdicts are append-only; the newest one of an item that is not retracted counts.
NEWEST_FIRST = ("-created_at", "-id")


def queue_order_key(order: str | None = None) -> str:
    """The field an order sorts on; ``None`` is the ``REVIEW_QUEUE_ORDER`` setting."""
    order = order or getattr(settings, "REVIEW_QUEUE_ORDER", DEFAULT_QUEUE_ORDER)
    return QUEUE_ORDERS.get(order, QUEUE_ORDERS[DEFAULT_QUEUE_ORDER])


def queue_ordering(order: str | None = None) -> tuple[str, ...]:
    return (queue_order_key(order), "-opened_at", "-id")


class ReviewItemQuerySet(models.QuerySet):
    def open(self) -> ReviewItemQuerySet:
        return self.exclude(state=ReviewItem.State.RESOLVED)

    def resolved(self) -> ReviewItemQuerySet:
        return self.filter(state=ReviewItem.State.RESOLVED)

    def in_queue_order(self, order: str | None = None) -> ReviewItemQuerySet:
        return self.order_by(*queue_ordering(order))

    def after_in_queue(self, item: ReviewItem, order: str | None = None) -> ReviewItemQuerySet:
        """The items that come after ``item`` in queue order."""
        key = queue_order_key(order)
        value = getattr(item, key)
        return self.filter(
            Q(**{f"{key}__gt": value})
            | Q(**{key: value, "opened_at__lt": item.opened_at})
            | Q(**{key: value, "opened_at": item.opened_at, "pk__lt": item.pk})
        )

    def with_latest_decision(self) -> ReviewItemQuerySet:
        """Annotate ``latest_decision``: the decision of each item's verdict that counts."""
        latest = Verdict.objects.standing().filter(review_item=models.OuterRef("pk"))
        latest = latest.newest_first()
        return self.annotate(latest_decision=models.Subquery(latest.values("decision")[:1]))


class VerdictQuerySet(models.QuerySet):
    def newest_first(self) -> VerdictQuerySet:
        return self.order_by(*NEWEST_FIRST)

    def labelling(self) -> VerdictQuerySet:
        """Match and mismatch verdicts: the ones that say whether the text fits the image."""
        return self.filter(decision__in=[Verdict.Decision.MATCH, Verdict.Decision.MISMATCH])

    def standing(self) -> VerdictQuerySet:
        """Verdicts not retracted (undone): a retracted verdict never counts anywhere."""
        return self.filter(retracted_at__isnull=True)

    def latest_per_item(self) -> VerdictQuerySet:
        """The verdict that counts for each review item: its newest standing one."""
        newest = (
            Verdict.objects.standing()
            .filter(review_item=models.OuterRef("review_item"))
            .newest_first()
        )
        return self.standing().filter(pk=models.Subquery(newest.values("pk")[:1]))


class ReviewItem(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        IN_REVIEW = "in_review", "In review"
        RESOLVED = "resolved", "Resolved"

    class Reason(models.TextChoices):
        MISMATCH = "mismatch", "Image–text mismatch"
        UNCERTAIN = "uncertain", "Uncertain score"
        QUALITY = "quality", "Quality check failed"
        ATTRIBUTE_CONFLICT = "attribute_conflict", "Image contradicts a stated attribute"
        CATEGORY_CONFLICT = "category_conflict", "Image contradicts the product's category"

    image = models.ForeignKey(ProductImage, on_delete=models.CASCADE, related_name="review_items")
    result = models.ForeignKey(
        AnalysisResult, on_delete=models.CASCADE, related_name="review_items"
    )
    reasons = models.JSONField(default=list)
    primary_reason = models.CharField(max_length=20, choices=Reason.choices, db_index=True)
    # Smaller is reviewed first. ``priority``: how likely the text fits the image, on
    # the P(match) scale (certain quality failures 0); ``uncertainty``: distance of the
    # score from the decision. ``review.review_priority`` computes both.
    priority = models.FloatField(default=1.0, db_index=True)
    uncertainty = models.FloatField(default=1.0, db_index=True)
    state = models.CharField(
        max_length=12, choices=State.choices, default=State.OPEN, db_index=True
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A claim ("in review") lapses at this moment; the item is then anyone's again.
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=255, blank=True)

    objects = ReviewItemQuerySet.as_manager()

    class Meta:
        ordering = list(QUEUE_ORDER)
        constraints = [
            models.UniqueConstraint(
                fields=["image"],
                condition=~Q(state="resolved"),
                name="one_open_review_item_per_image",
            )
        ]
        permissions = [("review_item", "Can record verdicts in the review queue")]

    def __str__(self) -> str:
        return f"Review {self.pk}: {self.image} ({self.get_state_display()})"

    @property
    def latest_verdict(self) -> Verdict | None:
        """The verdict that counts (the newest standing one), if any."""
        return self.verdicts.standing().newest_first().first()

    @property
    def claim_expired(self) -> bool:
        return (
            self.state == self.State.IN_REVIEW
            and self.claim_expires_at is not None
            and self.claim_expires_at <= timezone.now()
        )


class Verdict(models.Model):
    """A reviewer's decision. Append-only: the newest standing one for an item counts.

    Undo retracts a verdict (``retracted_at``/``retracted_by`` are set, nothing is
    deleted); a revision is a new verdict that ``revises`` the one it replaces.
    """

    class Decision(models.TextChoices):
        MATCH = "match", "Match"
        MISMATCH = "mismatch", "Mismatch"
        BAD_IMAGE = "bad_image", "Bad image"

    review_item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="verdicts")
    result = models.ForeignKey(AnalysisResult, on_delete=models.CASCADE, related_name="verdicts")
    decision = models.CharField(max_length=12, choices=Decision.choices)
    # The text a product description may be: the same limit as the product's own field.
    corrected_description = models.TextField(
        blank=True, max_length=Product._meta.get_field("description").max_length
    )
    comment = models.TextField(blank=True, max_length=2000)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="verdicts"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    revises = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="revisions"
    )
    retracted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    retracted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = VerdictQuerySet.as_manager()

    class Meta:
        ordering = list(NEWEST_FIRST)

    def __str__(self) -> str:
        return f"{self.get_decision_display()} on review {self.review_item_id}"

    @property
    def is_retracted(self) -> bool:
        return self.retracted_at is not None


class VerdictChange(models.Model):
    """One change of an item's verdict: who, when, the decision before and after, why.

    ``before`` and ``after`` are decisions; empty means "no verdict" (the item open).
    """

    class Action(models.TextChoices):
        RECORDED = "recorded", "Recorded"
        CORRECTED = "corrected", "Corrected description"
        UNDONE = "undone", "Undone"
        REVISED = "revised", "Revised"

    review_item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="changes")
    verdict = models.ForeignKey(Verdict, on_delete=models.CASCADE, related_name="changes")
    action = models.CharField(max_length=12, choices=Action.choices)
    before = models.CharField(max_length=12, blank=True)
    after = models.CharField(max_length=12, blank=True)
    reason = models.TextField(blank=True, max_length=2000)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} on review {self.review_item_id}"

    @staticmethod
    def decision_label(value: str) -> str:
        return Verdict.Decision(value).label if value else "no verdict"

    @property
    def before_label(self) -> str:
        return self.decision_label(self.before)

    @property
    def after_label(self) -> str:
        return self.decision_label(self.after)
