"""The review queue: items waiting for a reviewer, and reviewers' verdicts.

Review items and verdicts change only in ``clipanalysis.review``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from catalog.models import Product, ProductImage
from clipanalysis.models.analyses import AnalysisResult

# The queue order: smallest priority first, then newest, then highest id (a total order).
QUEUE_ORDER = ("priority", "-opened_at", "-id")
# Verdicts are append-only; the newest one of an item counts.
NEWEST_FIRST = ("-created_at", "-id")


class ReviewItemQuerySet(models.QuerySet):
    def open(self) -> ReviewItemQuerySet:
        return self.exclude(state=ReviewItem.State.RESOLVED)

    def resolved(self) -> ReviewItemQuerySet:
        return self.filter(state=ReviewItem.State.RESOLVED)

    def in_queue_order(self) -> ReviewItemQuerySet:
        return self.order_by(*QUEUE_ORDER)

    def after_in_queue(self, item: ReviewItem) -> ReviewItemQuerySet:
        """The items that come after ``item`` in queue order."""
        return self.filter(
            Q(priority__gt=item.priority)
            | Q(priority=item.priority, opened_at__lt=item.opened_at)
            | Q(priority=item.priority, opened_at=item.opened_at, pk__lt=item.pk)
        )

    def with_latest_decision(self) -> ReviewItemQuerySet:
        """Annotate ``latest_decision``: the decision of each item's verdict that counts."""
        latest = Verdict.objects.filter(review_item=models.OuterRef("pk")).newest_first()
        return self.annotate(latest_decision=models.Subquery(latest.values("decision")[:1]))


class VerdictQuerySet(models.QuerySet):
    def newest_first(self) -> VerdictQuerySet:
        return self.order_by(*NEWEST_FIRST)

    def labelling(self) -> VerdictQuerySet:
        """Match and mismatch verdicts: the ones that say whether the text fits the image."""
        return self.filter(decision__in=[Verdict.Decision.MATCH, Verdict.Decision.MISMATCH])

    def latest_per_item(self) -> VerdictQuerySet:
        """The verdict that counts for each review item: its newest."""
        newest = Verdict.objects.filter(review_item=models.OuterRef("review_item")).newest_first()
        return self.filter(pk=models.Subquery(newest.values("pk")[:1]))


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
    # Smaller is reviewed first: distance of the score from the threshold.
    priority = models.FloatField(default=1.0, db_index=True)
    state = models.CharField(
        max_length=12, choices=State.choices, default=State.OPEN, db_index=True
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
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
        return self.verdicts.newest_first().first()


class Verdict(models.Model):
    """A reviewer's decision. Append-only: the latest one for an item counts."""

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

    objects = VerdictQuerySet.as_manager()

    class Meta:
        ordering = list(NEWEST_FIRST)

    def __str__(self) -> str:
        return f"{self.get_decision_display()} on review {self.review_item_id}"
