"""Serializers for the seed-compatible ``/upload`` and for batch scoring."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clipanalysis.api.fields import (
    DescriptionField,
    ImageAlias,
    ImageListAlias,
    ImageUploadField,
    UploadAliasesMixin,
)
from clipanalysis.api.serializers.analyses import (
    QUALITY_MEASURES,
    AnalysisOutcomeFields,
    Status,
)
from clipanalysis.models import AnalysisResult
from clipanalysis.quality import QUALITY_CHECKS
from clipanalysis.review import DESCRIPTION_MAX_CHARS
from config.api.errors import PayloadTooLarge


class SeedUploadRequestSerializer(UploadAliasesMixin, serializers.Serializer):
    """The seed's upload: one image (``file``; ``image`` is its old name) and its text."""

    file = ImageUploadField()
    image = ImageAlias()
    description = DescriptionField(
        max_length=DESCRIPTION_MAX_CHARS, help_text="The product description to check against."
    )
    sku = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="The product to attach the image to (created if missing). Without it, "
        "the SKU is derived from the image's content hash.",
    )
    title = serializers.CharField(required=False, allow_blank=True, max_length=255)


class SeedUploadResultSerializer(AnalysisOutcomeFields, serializers.ModelSerializer):
    """The seed's ``/upload`` answer (its field names), plus ids to follow up with."""

    id = serializers.IntegerField(source="image_id", read_only=True, help_text="Image id.")
    analysis_id = serializers.IntegerField(source="pk", read_only=True)
    product_id = serializers.IntegerField(source="image.product_id", read_only=True)
    sku = serializers.CharField(source="image.product.sku", read_only=True)
    filename = serializers.CharField(source="image.original_filename", read_only=True)
    width = serializers.IntegerField(source="image.width", read_only=True)
    height = serializers.IntegerField(source="image.height", read_only=True)
    format = serializers.CharField(source="image.format", read_only=True)
    upload_date = serializers.DateTimeField(source="image.uploaded_at", read_only=True)
    clip_similarity_score = serializers.FloatField(
        source="similarity_score", read_only=True, allow_null=True
    )
    clip_match_status = serializers.CharField(source="status_text", read_only=True)
    clip_is_match = serializers.BooleanField(source="is_match", read_only=True, allow_null=True)
    already_uploaded = serializers.SerializerMethodField(
        help_text="The same file was already on this product: it was not analysed again."
    )

    class Meta:
        model = AnalysisResult
        fields = [
            "id",
            "analysis_id",
            "product_id",
            "sku",
            "filename",
            "width",
            "height",
            "format",
            "upload_date",
            "description",
            "status",
            "passed",
            "reason",
            "clip_similarity_score",
            "clip_match_status",
            "clip_is_match",
            "threshold",
            "match_probability",
            "zero_shot_label",
            *QUALITY_MEASURES,
            "model_version",
            "already_uploaded",
        ]
        read_only_fields = fields

    def get_already_uploaded(self, result: AnalysisResult) -> bool:
        return bool(self.context.get("already_uploaded", False))


class UploadAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Image id.")
    analysis_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Status.choices)
    poll_url = serializers.CharField(help_text="GET this analysis until its status is done.")
    already_uploaded = serializers.BooleanField()


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": DescriptionField.schema, "minItems": 1},
            DescriptionField.schema,
        ],
        "description": "One description per image, in the same order as ``file`` (repeat the "
        "field; a single part is a list of one).",
    }
)
class DescriptionListField(serializers.ListField):
    """In multipart a single ``descriptions`` part is a list of one: documented as such."""


class BatchScoreRequestSerializer(UploadAliasesMixin, serializers.Serializer):
    """Image/description pairs: ``file`` repeated (``files`` is its old name), same order."""

    file = serializers.ListField(
        child=ImageUploadField(),
        min_length=1,
        help_text="Images, one multipart part each (repeat the field); at most BATCH_MAX_ITEMS.",
    )
    files = ImageListAlias()
    descriptions = DescriptionListField(
        child=DescriptionField(max_length=DESCRIPTION_MAX_CHARS),
        min_length=1,
        help_text="One description per image, in the same order as ``file``.",
    )

    def validate(self, data: dict) -> dict:
        limit = settings.BATCH_MAX_ITEMS
        files, descriptions = data["file"], data["descriptions"]
        if len(files) > limit:
            raise serializers.ValidationError(
                {"file": [f"{len(files)} images sent; at most {limit} per call."]}
            )
        pixels = sum(item.pixels for item in files)
        if pixels > settings.BATCH_MAX_PIXELS:
            raise PayloadTooLarge(
                f"The images hold {pixels:,} pixels in all; one call may score at most "
                f"{settings.BATCH_MAX_PIXELS:,} (BATCH_MAX_PIXELS). Send fewer or smaller images.",
                field="file",
            )
        if len(files) != len(descriptions):
            raise serializers.ValidationError(
                {
                    "descriptions": [
                        f"{len(descriptions)} descriptions for {len(files)} images; "
                        "send one description per image."
                    ]
                }
            )
        return data


FIELD_TYPES = {
    int: serializers.IntegerField,
    float: serializers.FloatField,
    bool: serializers.BooleanField,
}


class BatchItemBaseSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position in the request.")
    filename = serializers.CharField()
    description = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    passed = serializers.BooleanField()
    reason = serializers.CharField()
    similarity_score = serializers.FloatField()
    is_match = serializers.BooleanField()
    quality_passed = serializers.BooleanField()
    quality_failures = serializers.ListField(child=serializers.CharField())


# One field per quality check that keeps a number (declared in quality.QUALITY_CHECKS).
BatchItemResultSerializer = type(
    "BatchItemResultSerializer",
    (BatchItemBaseSerializer,),
    {check.field: FIELD_TYPES[check.field_type]() for check in QUALITY_CHECKS if check.field},
)


class BatchScoreResponseSerializer(serializers.Serializer):
    model_version = serializers.CharField()
    threshold = serializers.FloatField()
    results = BatchItemResultSerializer(many=True)
