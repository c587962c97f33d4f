"""Serializers for the review queue: items, verdicts, and the requests that record them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clipanalysis.api.serializers.why import WhyField
from clipanalysis.models import ReviewItem, Verdict, VerdictChange
from clipanalysis.review import COMMENT_MAX_CHARS, DESCRIPTION_MAX_CHARS


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
    match_probability = serializers.FloatField(
        source="result.match_probability", read_only=True, allow_null=True
    )
    reasons = serializers.ListField(child=serializers.CharField(), read_only=True)
    why = WhyField(result="result")
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
            "match_probability",
            "state",
            "primary_reason",
            "reasons",
            "why",
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
        # ``verdicts`` is prefetched newest first by the view; a retracted one never counts.
        standing = [verdict for verdict in item.verdicts.all() if verdict.retracted_at is None]
        return VerdictSerializer(standing[0]).data if standing else None


class VerdictRequestSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Verdict.Decision.choices)
    corrected_description = serializers.CharField(
        required=False, allow_blank=True, max_length=DESCRIPTION_MAX_CHARS, default=""
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, max_length=COMMENT_MAX_CHARS, default=""
    )


class CorrectDescriptionRequestSerializer(serializers.Serializer):
    text = serializers.CharField(
        max_length=DESCRIPTION_MAX_CHARS, help_text="The description the image really shows."
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, max_length=COMMENT_MAX_CHARS, default=""
    )


class ReviseRequestSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=Verdict.Decision.choices, help_text="The decision that counts from now on."
    )
    reason = serializers.CharField(
        max_length=COMMENT_MAX_CHARS, help_text="Why the verdict changes (required; kept)."
    )


class VerdictChangeSerializer(serializers.ModelSerializer):
    """One change of an item's verdict; ``before``/``after`` empty means "no verdict"."""

    changed_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = VerdictChange
        fields = [
            "id",
            "review_item",
            "verdict",
            "action",
            "before",
            "after",
            "reason",
            "changed_by",
            "changed_at",
        ]
        read_only_fields = fields
