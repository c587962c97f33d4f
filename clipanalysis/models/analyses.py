"""Analysis results and stored image embeddings.

``AnalysisResult`` rows change only in ``clipanalysis.pipeline`` (with its lease helper,
``clipanalysis.leases``).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from catalog.models import ProductImage
from clipanalysis.models.model_versions import ModelVersion


class AnalysisResultQuerySet(models.QuerySet):
    def current(self) -> AnalysisResultQuerySet:
        return self.filter(is_current=True)

    def done(self) -> AnalysisResultQuerySet:
        return self.filter(status=AnalysisResult.Status.DONE)

    def flagged(self) -> AnalysisResultQuerySet:
        """Finished results that fail the match decision or a blocking quality check."""
        return self.done().filter(Q(is_match=False) | Q(quality_passed=False))


class AnalysisResult(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    image = models.ForeignKey(ProductImage, on_delete=models.CASCADE, related_name="analyses")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    # The idempotency key: image content × description × model version.
    image_hash = models.CharField(max_length=64)
    description_hash = models.CharField(max_length=64)
    description = models.TextField(help_text="The text that was scored.")
    is_current = models.BooleanField(default=True)

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    enqueued_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Who holds the lease ("host:pid:random", written by each claim): only that holder may
    # renew it or write the result (clipanalysis.leases).
    lease_owner = models.CharField(max_length=100, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    # Quality checks: each number plus its verdict; `quality` keeps the full report.
    quality = models.JSONField(default=dict, blank=True)
    quality_passed = models.BooleanField(null=True)
    quality_failures = models.JSONField(default=list, blank=True)
    min_side = models.PositiveIntegerField(null=True, blank=True)
    blur_score = models.FloatField(null=True, blank=True)
    brightness_score = models.FloatField(null=True, blank=True)
    contrast_score = models.FloatField(null=True, blank=True)
    aspect_ratio = models.FloatField(null=True, blank=True)
    is_grayscale = models.BooleanField(null=True)
    duplicate_of = models.ForeignKey(
        ProductImage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    duplicate_distance = models.PositiveSmallIntegerField(null=True, blank=True)

    # CLIP.
    similarity_score = models.FloatField(null=True, blank=True, db_index=True)
    threshold = models.FloatField(null=True, blank=True)
    is_match = models.BooleanField(null=True)
    match_probability = models.FloatField(null=True, blank=True)
    zero_shot_results = models.JSONField(null=True, blank=True)
    zero_shot_label = models.CharField(max_length=100, blank=True)
    explanation = models.JSONField(null=True, blank=True)

    # Timings.
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    quality_ms = models.FloatField(null=True, blank=True)
    clip_ms = models.FloatField(null=True, blank=True)

    objects = AnalysisResultQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["image", "image_hash", "description_hash", "model_version"],
                name="one_result_per_image_text_model",
            ),
            models.UniqueConstraint(
                fields=["image"], condition=Q(is_current=True), name="one_current_result_per_image"
            ),
        ]
        indexes = [models.Index(fields=["status", "lease_expires_at"])]

    def __str__(self) -> str:
        return f"Analysis {self.pk} of image {self.image_id} ({self.status})"

    @property
    def status_text(self) -> str:
        """The seed's status line: "Match (score: 0.842)"."""
        if self.status != self.Status.DONE or self.similarity_score is None:
            return self.get_status_display()
        verdict = "Match" if self.is_match else "Mismatch"
        return f"{verdict} (score: {self.similarity_score:.3f})"


class ImageEmbedding(models.Model):
    """An image's CLIP embedding, reused when only the description changes."""

    image_hash = models.CharField(max_length=64)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    vector = models.BinaryField(help_text="float32, L2-normalised")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["image_hash", "model_version"], name="one_embedding_per_image_model"
            )
        ]

    def __str__(self) -> str:
        return f"Embedding of {self.image_hash[:12]} by model {self.model_version_id}"
