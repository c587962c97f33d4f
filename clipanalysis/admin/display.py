"""Small HTML pieces the admin pages share: thumbnails and score badges."""

from __future__ import annotations

from django.utils.html import format_html

from catalog.models import ProductImage


def thumbnail(image: ProductImage | None, size: int = 80) -> str:
    if image is None or not image.image:
        return "—"
    return format_html(
        '<img src="{}" style="max-width:{}px;max-height:{}px;object-fit:contain" alt="">',
        image.image.url,
        size,
        size,
    )


def score_badge(score: float | None, is_match: bool | None) -> str:
    if score is None:
        return "—"
    colour = "#1a7f37" if is_match else "#cf222e"
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 6px;border-radius:8px">{}</span>',
        colour,
        f"{score:.3f}",
    )
