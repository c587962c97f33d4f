"""Serializers for products and their images."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.api.uploads import ImageUploadField, attach_image
from catalog.filtersets import ProductAnalysisStatus, product_analysis_status
from catalog.models import Product, ProductImage
from clipanalysis.api.serializers import AnalysisSummarySerializer
from clipanalysis.models import AnalysisResult, ReviewItem


def current_analysis(image: ProductImage) -> AnalysisResult | None:
    """The image's current result: prefetched by the views as ``current_analyses``."""
    prefetched = getattr(image, "current_analyses", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return image.analyses.current().select_related("model_version").first()


class ProductImageSerializer(serializers.ModelSerializer):
    """An image of a product; ``image`` is the upload (write), ``url`` where it is served."""

    image = ImageUploadField(write_only=True)
    url = serializers.FileField(source="image", read_only=True, use_url=True)
    sku = serializers.CharField(source="product.sku", read_only=True)
    analysis = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = [
            "id",
            "product",
            "sku",
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
            image, self.created = attach_image(product, validated_data["image"])
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
        return product_analysis_status([current_analysis(image) for image in product.images.all()])

    def get_has_open_review(self, product: Product) -> bool:
        annotated = getattr(product, "has_open_review", None)
        if annotated is not None:
            return bool(annotated)
        return ReviewItem.objects.open().filter(image__product=product).exists()
