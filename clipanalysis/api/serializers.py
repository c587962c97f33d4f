"""Serializers for analysis results, review items, verdicts and scoring responses."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.api.uploads import ImageUploadField
from clipanalysis.models import AnalysisResult, ReviewItem, Verdict

DESCRIPTION_MAX_CHARS = 5000

Status = AnalysisResult.Status

CHECK_LABELS = {
    "resolution": "Resolution too low",
    "blur": "Image is blurry",
    "brightness": "Product too dark or too bright",
    "contrast": "Contrast too low",
    "aspect_ratio": "Aspect ratio too extreme",
    "background": "Background is not pure white",
    "grayscale": "Image is greyscale",
    "duplicate": "Duplicate of another product's image",
}


def analysis_passed(result: AnalysisResult) -> bool:
    """The seed's ``passed``: finished, matching the description, and quality passed."""
    return bool(
        result.status == Status.DONE and result.is_match and result.quality_passed is not False
    )


def mismatch_text(score: float, threshold: float) -> str:
    return f"Image does not match the description (score {score:.3f} < threshold {threshold:.3f})"


def check_failure_text(name: str, value=None, limit=None, duplicate_of: int | None = None) -> str:
    label = CHECK_LABELS.get(name, name.replace("_", " ").capitalize())
    if name == "duplicate" and duplicate_of:
        return f"{label} (image {duplicate_of})"
    if value is not None and limit is not None:
        return f"{label} ({value:g}; needs {limit})"
    return label


def analysis_reason(result: AnalysisResult) -> str:
    """The seed's ``reason``: every failure in words, or that all checks passed."""
    if result.status == Status.FAILED:
        return f"Analysis failed: {result.error or 'unknown error'}"
    if result.status != Status.DONE:
        return f"Analysis {result.get_status_display().lower()}."
    reasons = []
    if result.is_match is False and result.similarity_score is not None:
        reasons.append(mismatch_text(result.similarity_score, result.threshold))
    checks = {check.get("name"): check for check in (result.quality or {}).get("checks", [])}
    for name in result.quality_failures or []:
        check = checks.get(name) or {}
        reasons.append(
            check_failure_text(name, check.get("value"), check.get("limit"), result.duplicate_of_id)
        )
    return "; ".join(reasons) if reasons else "All checks passed."


QUALITY_MEASURES = [
    "quality_passed",
    "quality_failures",
    "min_side",
    "blur_score",
    "brightness_score",
    "contrast_score",
    "aspect_ratio",
    "is_grayscale",
    "duplicate_of",
]


class AnalysisOutcomeFields(serializers.Serializer):
    """``passed``, ``reason`` and the scoring model: shared by every analysis view.

    Subclasses list the ones they show in ``Meta.fields``.
    """

    model_version = serializers.SlugRelatedField(slug_field="version", read_only=True)
    passed = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()

    def get_passed(self, result: AnalysisResult) -> bool:
        return analysis_passed(result)

    def get_reason(self, result: AnalysisResult) -> str:
        return analysis_reason(result)


class AnalysisSummarySerializer(AnalysisOutcomeFields, serializers.ModelSerializer):
    """The current analysis of an image, as shown inside products and images."""

    class Meta:
        model = AnalysisResult
        fields = [
            "id",
            "status",
            "status_text",
            "similarity_score",
            "threshold",
            "is_match",
            "match_probability",
            "quality_passed",
            "quality_failures",
            "passed",
            "model_version",
            "finished_at",
        ]
        read_only_fields = fields


class AnalysisResultSerializer(AnalysisOutcomeFields, serializers.ModelSerializer):
    product = serializers.IntegerField(source="image.product_id", read_only=True)
    sku = serializers.CharField(source="image.product.sku", read_only=True)

    class Meta:
        model = AnalysisResult
        fields = [
            "id",
            "image",
            "product",
            "sku",
            "model_version",
            "description",
            "is_current",
            "status",
            "status_text",
            "error",
            "passed",
            "reason",
            "similarity_score",
            "threshold",
            "is_match",
            "match_probability",
            "zero_shot_label",
            "zero_shot_results",
            *QUALITY_MEASURES,
            "quality",
            "duplicate_distance",
            "created_at",
            "started_at",
            "finished_at",
            "quality_ms",
            "clip_ms",
        ]
        read_only_fields = fields


class VerdictSerializer(serializers.ModelSerializer):
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    product = serializers.IntegerField(source="review_item.image.product_id", read_only=True)

    class Meta:
        model = Verdict
        fields = [
            "id",
            "review_item",
            "result",
            "product",
            "decision",
            "corrected_description",
            "comment",
            "reviewer",
            "created_at",
        ]
        read_only_fields = fields


class ReviewItemSerializer(serializers.ModelSerializer):
    product = serializers.IntegerField(source="image.product_id", read_only=True)
    sku = serializers.CharField(source="image.product.sku", read_only=True)
    description = serializers.CharField(source="result.description", read_only=True)
    similarity_score = serializers.FloatField(
        source="result.similarity_score", read_only=True, allow_null=True
    )
    assigned_to = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    reasons = serializers.ListField(child=serializers.CharField(), read_only=True)
    latest_verdict = serializers.SerializerMethodField()

    class Meta:
        model = ReviewItem
        fields = [
            "id",
            "image",
            "product",
            "sku",
            "result",
            "description",
            "similarity_score",
            "state",
            "primary_reason",
            "reasons",
            "priority",
            "assigned_to",
            "opened_at",
            "resolved_at",
            "closed_reason",
            "latest_verdict",
        ]
        read_only_fields = fields

    @extend_schema_field(VerdictSerializer(allow_null=True))
    def get_latest_verdict(self, item: ReviewItem) -> dict | None:
        # ``verdicts`` is prefetched newest first by the view.
        verdicts = list(item.verdicts.all())
        return VerdictSerializer(verdicts[0]).data if verdicts else None


class VerdictRequestSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Verdict.Decision.choices)
    corrected_description = serializers.CharField(
        required=False, allow_blank=True, max_length=DESCRIPTION_MAX_CHARS, default=""
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class CorrectDescriptionRequestSerializer(serializers.Serializer):
    text = serializers.CharField(
        max_length=DESCRIPTION_MAX_CHARS, help_text="The description the image really shows."
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


# --- seed-compatible /upload and batch scoring ------------------------------------
class SeedUploadRequestSerializer(serializers.Serializer):
    file = ImageUploadField()
    description = serializers.CharField(
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


class BatchScoreRequestSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=ImageUploadField(),
        min_length=1,
        help_text="Images, one multipart part each (repeat the field); at most BATCH_MAX_ITEMS.",
    )
    descriptions = serializers.ListField(
        child=serializers.CharField(max_length=DESCRIPTION_MAX_CHARS),
        min_length=1,
        help_text="One description per image, in the same order as ``files``.",
    )

    def validate(self, data: dict) -> dict:
        limit = settings.BATCH_MAX_ITEMS
        files, descriptions = data["files"], data["descriptions"]
        if len(files) > limit:
            raise serializers.ValidationError(
                {"files": [f"{len(files)} images sent; at most {limit} per call."]}
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


class BatchItemResultSerializer(serializers.Serializer):
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
    min_side = serializers.IntegerField()
    blur_score = serializers.FloatField()
    brightness_score = serializers.FloatField()
    contrast_score = serializers.FloatField()
    aspect_ratio = serializers.FloatField()
    is_grayscale = serializers.BooleanField()


class BatchScoreResponseSerializer(serializers.Serializer):
    model_version = serializers.CharField()
    threshold = serializers.FloatField()
    results = BatchItemResultSerializer(many=True)
