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
