"""Products and their images: what the catalog says and what it shows."""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models

from catalog.imaging import ImageFacts, extension_for, inspect_image
from catalog.pixel_budget import process_budget

FILENAME_MAX_CHARS = 255


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
    """A random key plus the extension of the format decoded from the bytes.

    The client's file name and extension never reach the disk (``x.html`` that is
    also a valid GIF is stored as ``….gif``); it is kept in ``original_filename``.
    """
    key = uuid.uuid4().hex
    return f"products/{key[:2]}/{key}{extension_for(instance.format)}"


def display_filename(name: str | None) -> str:
    """The client's file name made harmless for display: no directories, no control characters."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if cleaned in ("", ".", ".."):
        cleaned = "upload"
    return cleaned[:FILENAME_MAX_CHARS]


def inspect_upload(file) -> ImageFacts:
    """``inspect_image`` with the configured formats, pixel limit and process pixel budget."""
    return inspect_image(
        file,
        formats=settings.ALLOWED_IMAGE_FORMATS,
        max_pixels=settings.MAX_IMAGE_PIXELS,
        budget=process_budget(settings.DECODE_PIXEL_BUDGET),
        budget_wait=settings.DECODE_WAIT_SECONDS,
    )


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    # A FileField, not ImageField: decoding goes through catalog.imaging alone.
    image = models.FileField(upload_to=image_upload_path, max_length=255)
    original_filename = models.CharField(max_length=255, blank=True)
    content_hash = models.CharField(max_length=64, db_index=True, editable=False)
    # Written by the analysis pipeline; used to find near-duplicates.
    perceptual_hash = models.CharField(max_length=16, blank=True, editable=False)
    # The hash cut into three bands, each an indexed column: the near-duplicate index
    # (clipanalysis.image_signature explains it). Written with the hash.
    phash_band_0 = models.IntegerField(null=True, blank=True, editable=False, db_index=True)
    phash_band_1 = models.IntegerField(null=True, blank=True, editable=False, db_index=True)
    phash_band_2 = models.IntegerField(null=True, blank=True, editable=False, db_index=True)
    # Soft RGB histogram (float32 bytes) that confirms a near-duplicate has the same colours.
    colour_histogram = models.BinaryField(blank=True, default=b"", editable=False)
    width = models.PositiveIntegerField(default=0, editable=False)
    height = models.PositiveIntegerField(default=0, editable=False)
    format = models.CharField(max_length=16, blank=True, editable=False)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.product.sku} image {self.pk}"

    def save(self, *args, **kwargs) -> None:
        """New bytes (an upload or a replaced file) are inspected: hash, size and format
        always describe the file on disk (raises ``BadImageError``).

        A changed ``content_hash`` is a new analysis key: the ``post_save`` receiver
        asks for the analysis, and the old result stops being current.
        """
        # A file stored before the row (``image.save(name, content)``, as seeding does)
        # is committed already: without a content hash it is still new bytes.
        if self.image and (not self.image._committed or not self.content_hash):
            if getattr(self, "_facts_file", None) is not self.image.file:
                self.record_facts(inspect_upload(self.image.file), self.image.file)
            self.original_filename = display_filename(self.image.name)
            # The pipeline computes these for the new pixels.
            self.perceptual_hash = ""
            self.phash_band_0 = self.phash_band_1 = self.phash_band_2 = None
            self.colour_histogram = b""
        super().save(*args, **kwargs)

    def record_facts(self, facts: ImageFacts, file) -> None:
        """Take an upload check's facts for ``file`` so saving does not inspect it again."""
        self.content_hash = facts.content_hash
        self.width, self.height, self.format = facts.width, facts.height, facts.format
        self._facts_file = file
