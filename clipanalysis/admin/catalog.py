"""Admin for products and their images (uploads go through ``catalog.uploads``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count

from catalog.imaging import BadImageError
from catalog.models import Product, ProductImage
from catalog.uploads import check_upload
from clipanalysis.admin.display import thumbnail


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
    list_display = ["sku", "title", "category", "image_count", "updated_at"]
    list_filter = ["category"]
    search_fields = ["sku", "title", "description"]
    inlines = [ProductImageInline]

    def get_queryset(self, request):
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
