"""Serializers for analysis results, and the seed's ``passed`` / ``reason`` in words."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clipanalysis.api.serializers.why import WhyField
from clipanalysis.models import AnalysisResult
from clipanalysis.quality import MEASURE_FIELDS, check_label

Status = AnalysisResult.Status


def analysis_passed(result: AnalysisResult) -> bool | None:
    """The seed's ``passed``: matching the description and quality passed; ``None`` while
    there is no judgement yet (pending, running) or none came (failed: ``reason`` says why),
    so a client never reads "not passed" for "not known"."""
    if result.status != Status.DONE:
        return None
    return bool(result.is_match and result.quality_passed is not False)


def mismatch_text(score: float, threshold: float) -> str:
    return f"Image does not match the description (score {score:.3f} < threshold {threshold:.3f})"


def check_failure_text(name: str, value=None, limit=None, duplicate_of: int | None = None) -> str:
    label = check_label(name)
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


# The quality fields every analysis view shows (the checks' numbers come from quality.py).
QUALITY_MEASURES = ["quality_passed", "quality_failures", *MEASURE_FIELDS, "duplicate_of"]


class AnalysisOutcomeFields(serializers.Serializer):
    """``passed``, ``reason`` and the scoring model: shared by every analysis view.

    Subclasses list the ones they show in ``Meta.fields``.
    """

    model_version = serializers.SlugRelatedField(slug_field="version", read_only=True)
    passed = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()

    @extend_schema_field(
        serializers.BooleanField(
            allow_null=True,
            help_text="true: matches its description and passes the quality checks; false: "
            "it does not (reason says why); null until the analysis is done (pending or "
            "running), and when it failed (see status and reason).",
        )
    )
    def get_passed(self, result: AnalysisResult) -> bool | None:
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
    why = WhyField()

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
            "why",
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
