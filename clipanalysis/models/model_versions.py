"""The model registry: every configured or trained CLIP that has scored the catalog.

Rows change only in ``clipanalysis.registry``.
"""

from __future__ import annotations

from django.conf import settings
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


class ModelActivation(models.Model):
    """One switch of the scoring model: who, when, what it replaced, and what it measured.

    Rows are written only by ``clipanalysis.registry`` and never change: the
    model's history. ``threshold`` is the threshold the model went live with,
    so a rollback restores it even if the version's threshold was edited since.
    """

    class Kind(models.TextChoices):
        ACTIVATED = "activated", "Activated (guard passed)"
        FORCED = "forced", "Activated despite the guard (--force)"
        UNGUARDED = "unguarded", "Activated without comparison"
        ROLLBACK = "rollback", "Rolled back to the previous model"
        START_UP = "start-up", "Chosen at start-up"

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="activations"
    )
    previous = models.ForeignKey(
        ModelVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replaced_by_activations",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.UNGUARDED)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    activated_at = models.DateTimeField(auto_now_add=True, db_index=True)
    threshold = models.FloatField()
    # The guard's comparison with the model it replaced (training.activation_guard), if any.
    metrics = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    # The CLIP_MODEL_NAME start-up acted on (``clipanalysis.serving``): a later start with
    # another value switches the model; the same value leaves later activations standing.
    configured_model = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-activated_at", "-id"]
        verbose_name = "model activation"
        verbose_name_plural = "model history"

    def __str__(self) -> str:
        return (
            f"{self.model_version} ({self.get_kind_display()}, {self.activated_at:%Y-%m-%d %H:%M})"
        )
