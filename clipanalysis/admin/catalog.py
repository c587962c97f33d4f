"""Admin for products and their images (uploads go through ``catalog.uploads``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery
from django.utils.html import format_html

from catalog.imaging import BadImageError
from catalog.models import Product, ProductImage
from catalog.uploads import check_upload
from clipanalysis.admin.display import score_badge, thumbnail
from clipanalysis.admin.review_pages import review_url
from clipanalysis.models import AnalysisResult, ReviewItem


class ProductImageForm(forms.ModelForm):
    class Meta:
        model = ProductImage
        fields = ["product", "image"]

    def clean_image(self):
        upload = self.cleaned_data["image"]
        if upload and hasattr(upload, "read"):
            try:
                check_upload(upload)
            except BadImageError as error:  # UploadTooLarge included
                raise forms.ValidationError(str(error)) from error
        return upload


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    form = ProductImageForm
    fields = ["preview", "image", "width", "height", "format"]
    readonly_fields = ["preview", "width", "height", "format"]
    extra = 1

    @admin.display(description="Preview")
    def preview(self, obj: ProductImage) -> str:
        return thumbnail(obj)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "preview",
        "sku",
        "title",
        "category",
        "image_count",
        "score",
        "review_state",
        "updated_at",
    ]
    list_filter = ["category"]
    search_fields = ["sku", "title", "description"]
    inlines = [ProductImageInline]

    def get_queryset(self, request):
        current = AnalysisResult.objects.current().filter(
            image__product=OuterRef("pk"), similarity_score__isnull=False
        )
        latest_item = ReviewItem.objects.filter(image__product=OuterRef("pk")).order_by(
            "-opened_at", "-id"
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                image_total=Count("images"),
                # The product's worst current score (the image most likely wrong).
                worst_score=Subquery(
                    current.order_by("similarity_score").values("similarity_score")[:1]
                ),
                worst_is_match=Subquery(
                    current.order_by("similarity_score").values("is_match")[:1]
                ),
                review_item_id=Subquery(latest_item.values("pk")[:1]),
                review_item_state=Subquery(latest_item.values("state")[:1]),
            )
            .prefetch_related("images")
        )

    @admin.display(description="Image")
    def preview(self, obj: Product) -> str:
        images = list(obj.images.all())
        return thumbnail(images[0]) if images else "—"

    @admin.display(description="Score", ordering="worst_score")
    def score(self, obj: Product) -> str:
        if obj.worst_score is None:
            return "—"
        return score_badge(obj.worst_score, obj.worst_is_match)

    @admin.display(description="Review", ordering="review_item_state")
    def review_state(self, obj: Product) -> str:
        """The newest review item's state, linked to its review page."""
        if obj.review_item_id is None:
            return "not queued"
        item = ReviewItem(pk=obj.review_item_id, state=obj.review_item_state)
        return format_html('<a href="{}">{}</a>', review_url(item), item.get_state_display())

    @admin.display(description="Images", ordering="image_total")
    def image_count(self, obj: Product) -> int:
        return obj.image_total


@admin.register(ProductImage)
class ProductImageAdmin(admin.ModelAdmin):
    form = ProductImageForm
    list_display = ["id", "preview", "product", "width", "height", "format", "uploaded_at"]
    list_select_related = ["product"]
    list_filter = ["format"]
    search_fields = ["product__sku", "product__title", "content_hash"]
    readonly_fields = ["content_hash", "perceptual_hash", "width", "height", "format"]

    @admin.display(description="Preview")
    def preview(self, obj: ProductImage) -> str:
        return thumbnail(obj)
