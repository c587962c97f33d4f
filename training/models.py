"""Ground truth of the synthetic demo catalog."""

from __future__ import annotations

from django.db import models


class SyntheticTruth(models.Model):
    """Ground truth for a product made by ``seed_demo_catalog``: was it mismatched on purpose?"""

    product = models.OneToOneField(
        "catalog.Product", on_delete=models.CASCADE, related_name="synthetic_truth"
    )
    is_mismatch = models.BooleanField()
    mismatch_type = models.CharField(max_length=20, blank=True)
    attributes = models.JSONField(default=dict, help_text="What the image really shows.")

    class Meta:
        ordering = ["product_id"]

    def __str__(self) -> str:
        kind = self.mismatch_type or "match"
        return f"{self.product_id}: {kind}"


class ImprovementRun(models.Model):
    """One ``improve_model`` run: export → fine-tune → compare → activate only if better.

    Rows are written only by ``training.improvement``; the report says what each step
    produced (export counts, training summary, the guard's comparison) or why it stopped.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        ACTIVATED = "activated", "Better: activated"
        REFUSED = "refused", "Not better: refused by the guard"
        SKIPPED = "skipped", "Skipped (nothing to learn from)"
        FAILED = "failed", "Failed"

    trigger = models.CharField(max_length=20, default="manual")  # manual, weekly, verdicts
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    verdicts = models.PositiveIntegerField(default=0, help_text="Verdicts counted at the start.")
    base_model = models.ForeignKey(
        "clipanalysis.ModelVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    candidate = models.ForeignKey(
        "clipanalysis.ModelVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="improvement_runs",
    )
    message = models.TextField(blank=True)
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "model improvement run"

    def __str__(self) -> str:
        return f"Improvement {self.pk} ({self.get_status_display()})"
