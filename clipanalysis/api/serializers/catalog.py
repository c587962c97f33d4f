"""Serializers for products and their images."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Product, ProductImage
from catalog.uploads import ImageConflict, replace_image, store_upload
from clipanalysis.api.fields import ImageAlias, ImageUploadField, UploadAliasesMixin
from clipanalysis.api.serializers.analyses import AnalysisSummarySerializer
from clipanalysis.models import AnalysisResult
from clipanalysis.product_status import ProductAnalysisStatus, with_analysis_status
from config.api.errors import Conflict


def current_analysis(image: ProductImage) -> AnalysisResult | None:
    """The image's current result: prefetched by the views as ``current_analyses``."""
    prefetched = getattr(image, "current_analyses", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return image.analyses.current().select_related("model_version").first()


class ProductImageSerializer(UploadAliasesMixin, serializers.ModelSerializer):
    """An image of a product; ``file`` is the upload (write), ``url`` where it is served."""

    file = ImageUploadField(write_only=True, source="image")
    image = ImageAlias()
    url = serializers.FileField(source="image", read_only=True, use_url=True)
    sku = serializers.CharField(source="product.sku", read_only=True)
    analysis = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = [
            "id",
            "product",
            "sku",
            "file",
            "image",
            "url",
            "original_filename",
            "content_hash",
            "width",
            "height",
            "format",
            "uploaded_at",
            "analysis",
        ]
        read_only_fields = [
            "original_filename",
            "content_hash",
            "width",
            "height",
            "format",
            "uploaded_at",
        ]

    @extend_schema_field(AnalysisSummarySerializer(allow_null=True))
    def get_analysis(self, image: ProductImage) -> dict | None:
        result = current_analysis(image)
        return AnalysisSummarySerializer(result).data if result is not None else None

    def create(self, validated_data: dict) -> ProductImage:
        with transaction.atomic():
            product = Product.objects.select_for_update().get(pk=validated_data["product"].pk)
            image, self.created = store_upload(product, validated_data["image"])
        return image

    def update(self, image: ProductImage, validated_data: dict) -> ProductImage:
        """Replace the image's bytes: a new hash, size and format, and a new analysis."""
        product = validated_data.get("product")
        if product is not None and product.pk != image.product_id:
            raise serializers.ValidationError(
                {"product": ["An image stays on its product; upload it to the other one."]}
            )
        if "image" not in validated_data:
            raise serializers.ValidationError({"file": ["Send the new image file."]})
        try:
            replace_image(image, validated_data["image"])
        except ImageConflict as error:
            raise Conflict(str(error)) from error
        return image


class ProductImageSummarySerializer(ProductImageSerializer):
    class Meta(ProductImageSerializer.Meta):
        fields = ["id", "url", "original_filename", "width", "height", "analysis"]
        read_only_fields = fields


class ProductSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(
        help_text="Analysis status derived from the images' current results "
        "(the same as the `status` filter)."
    )
    has_open_review = serializers.SerializerMethodField()
    images = ProductImageSummarySerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "title",
            "description",
            "category",
            "status",
            "has_open_review",
            "images",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    @extend_schema_field(serializers.ChoiceField(choices=ProductAnalysisStatus.CHOICES))
    def get_status(self, product: Product) -> str:
        return self._annotated(product)["analysis_status"]

    def get_has_open_review(self, product: Product) -> bool:
        return bool(self._annotated(product)["has_open_review"])

    @staticmethod
    def _annotated(product: Product) -> dict:
        """``with_analysis_status``'s values: from the list query, or (after a write) fetched."""
        if hasattr(product, "analysis_status"):
            return {
                "analysis_status": product.analysis_status,
                "has_open_review": product.has_open_review,
            }
        return (
            with_analysis_status(Product.objects.filter(pk=product.pk))
            .values("analysis_status", "has_open_review")
            .get()
        )
