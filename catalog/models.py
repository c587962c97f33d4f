"""Products and their images: what the catalog says and what it shows."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models

from catalog.imaging import decode_image


class ProductQuerySet(models.QuerySet):
    def search(self, text: str) -> ProductQuerySet:
        return self.filter(
            models.Q(sku__icontains=text)
            | models.Q(title__icontains=text)
            | models.Q(description__icontains=text)
        )


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=255, blank=True)
    description = models.TextField(max_length=5000)
    category = models.CharField(max_length=100, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.sku} — {self.title or self.description[:40]}"


def description_hash(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


def image_upload_path(instance: ProductImage, filename: str) -> str:
    """Store under a random name: user file names (``../x.jpg``, unicode) never reach the disk."""
    suffix = PurePath(filename).suffix.lower()[:8]
    if not suffix.isascii() or not suffix[1:].isalnum():
        suffix = ""
    return f"products/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}{suffix}"


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    # A FileField, not ImageField: decoding goes through catalog.imaging alone.
    image = models.FileField(upload_to=image_upload_path, max_length=255)
    original_filename = models.CharField(max_length=255, blank=True)
    content_hash = models.CharField(max_length=64, db_index=True, editable=False)
    # Written by the analysis pipeline; used to find near-duplicates.
    perceptual_hash = models.CharField(max_length=16, blank=True, editable=False)
    width = models.PositiveIntegerField(default=0, editable=False)
    height = models.PositiveIntegerField(default=0, editable=False)
    format = models.CharField(max_length=16, blank=True, editable=False)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.product.sku} image {self.pk}"

    def save(self, *args, **kwargs) -> None:
        """Fill hash, size and format from the file itself (raises ``BadImageError``)."""
        if not self.content_hash and self.image:
            decoded = decode_image(
                self.image.file,
                formats=settings.ALLOWED_IMAGE_FORMATS,
                max_pixels=settings.MAX_IMAGE_PIXELS,
            )
            self.content_hash = decoded.content_hash
            self.width, self.height, self.format = decoded.width, decoded.height, decoded.format
            if not self.original_filename:
                self.original_filename = PurePath(self.image.name).name[:255]
        super().save(*args, **kwargs)
