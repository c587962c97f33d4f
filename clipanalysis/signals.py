"""Saving a product or an image asks for analysis (enqueued after commit)."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from catalog.models import Product, ProductImage
from clipanalysis.pipeline import request_analysis


@receiver(post_save, sender=Product, dispatch_uid="analyse_product_images")
def analyse_product_images(sender, instance: Product, raw: bool = False, **kwargs) -> None:
    """A description edit re-scores every image; an unchanged one is a no-op (same key)."""
    if raw:
        return
    image_ids = list(instance.images.values_list("pk", flat=True))
    if image_ids:
        request_analysis(image_ids)


@receiver(post_save, sender=ProductImage, dispatch_uid="analyse_new_image")
def analyse_new_image(sender, instance: ProductImage, raw: bool = False, **kwargs) -> None:
    if not raw:
        request_analysis([instance.pk])
