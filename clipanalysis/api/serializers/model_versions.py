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


class ActivationSerializer(serializers.Serializer):
    model = ModelVersionSerializer()
    queued_images = serializers.IntegerField(help_text="Images queued for re-scoring.")
