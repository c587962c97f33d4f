from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html

from catalog.imaging import BadImageError, decode_image
from catalog.models import Product, ProductImage


def thumbnail(image: ProductImage | None, size: int = 80) -> str:
    if image is None or not image.image:
        return "—"
    return format_html(
        '<img src="{}" style="max-width:{}px;max-height:{}px;object-fit:contain" alt="">',
        image.image.url,
        size,
        size,
    )


class ProductImageForm(forms.ModelForm):
    class Meta:
        model = ProductImage
        fields = ["product", "image"]

    def clean_image(self):
        upload = self.cleaned_data["image"]
        if upload and hasattr(upload, "read"):
            if upload.size > settings.UPLOAD_MAX_BYTES:
                limit = settings.UPLOAD_MAX_BYTES
                raise forms.ValidationError(
                    f"The file is {upload.size:,} bytes; the limit is {limit:,}."
                )
            try:
                decode_image(
                    upload,
                    formats=settings.ALLOWED_IMAGE_FORMATS,
                    max_pixels=settings.MAX_IMAGE_PIXELS,
                )
            except BadImageError as error:
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
    list_display = ["sku", "title", "category", "image_count", "updated_at"]
    list_filter = ["category"]
    search_fields = ["sku", "title", "description"]
    inlines = [ProductImageInline]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(image_total=Count("images"))

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
