from __future__ import annotations

from rest_framework import serializers

from clipanalysis.models import ModelVersion


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "version",
            "name_or_path",
            "source",
            "base_model",
            "threshold",
            "metrics",
            "calibration",
            "training_summary",
            "is_active",
            "created_at",
            "activated_at",
        ]
        read_only_fields = fields


class ActivationRequestSerializer(serializers.Serializer):
    force = serializers.BooleanField(
        default=False,
        help_text="Activate even when the activation guard refuses the candidate "
        "(recorded as a forced activation).",
    )


class ActivationSerializer(serializers.Serializer):
    model = ModelVersionSerializer()
    queued_images = serializers.IntegerField(help_text="Images queued for re-scoring.")
    message = serializers.CharField(help_text="What the activation guard decided.")
    comparison = serializers.CharField(
        allow_blank=True,
        help_text="The guard's side-by-side table (active vs candidate on the held-out "
        "verdicts); empty when there was no other loadable model to compare with.",
    )
