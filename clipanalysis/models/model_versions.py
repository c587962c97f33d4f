"""The model registry: every configured or trained CLIP that has scored the catalog.

Rows change only in ``clipanalysis.registry``.
"""

from __future__ import annotations

from django.db import models


class ModelVersionQuerySet(models.QuerySet):
    def active(self) -> ModelVersionQuerySet:
        return self.filter(is_active=True)


class ModelVersion(models.Model):
    class Source(models.TextChoices):
        CONFIGURED = "configured", "Configured (CLIP_MODEL_NAME)"
        DEMO = "demo", "Offline demo model"
        TRAINED = "trained", "Fine-tuned from verdicts"

    version = models.SlugField(max_length=120, unique=True)
    name_or_path = models.CharField(max_length=500, help_text="Hub name or local directory.")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.CONFIGURED)
    base_model = models.CharField(max_length=500, blank=True)
    training_summary = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    threshold = models.FloatField()
    # Logistic calibration of similarity → P(match), fitted from reviewer verdicts.
    calibration = models.JSONField(null=True, blank=True)
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_model_version",
            )
        ]
        # Activation re-scores the whole catalog: a permission of its own, not "change".
        permissions = [("activate_modelversion", "Can activate a model version (re-scores all)")]

    def __str__(self) -> str:
        return self.version
