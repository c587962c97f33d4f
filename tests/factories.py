"""Factories for catalog objects and test images with known properties."""

from __future__ import annotations

import io
import itertools

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFilter

from catalog.models import Product, ProductImage

_sku_counter = itertools.count(1)


def packshot(
    colour: tuple[int, int, int] = (200, 30, 30),
    size: tuple[int, int] = (640, 640),
    background: tuple[int, int, int] = (255, 255, 255),
    stripes: bool = True,
) -> Image.Image:
    """A product-like picture: a coloured, striped block on a plain background."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    width, height = size
    box = (width // 4, height // 4, 3 * width // 4, 3 * height // 4)
    draw.rectangle(box, fill=colour, outline=(0, 0, 0), width=max(2, width // 100))
    if stripes:
        for x in range(box[0], box[2], max(4, width // 40)):
            draw.line([(x, box[1]), (x, box[3])], fill=(20, 20, 20), width=max(1, width // 200))
    return image


def photo_like(seed: int, size: tuple[int, int] = (600, 600)) -> Image.Image:
    """Smooth random colour fields: photo-like low-frequency content, different per seed."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, (60, 60, 3), dtype=np.uint8)
    return (
        Image.fromarray(noise)
        .resize(size, Image.Resampling.BICUBIC)
        .filter(ImageFilter.GaussianBlur(8))
    )


def image_bytes(image: Image.Image | None = None, fmt: str = "JPEG", **kwargs) -> bytes:
    image = image or packshot()
    buffer = io.BytesIO()
    save_kwargs = {"quality": 92} if fmt == "JPEG" else {}
    save_kwargs.update(kwargs)
    image.save(buffer, format=fmt, **save_kwargs)
    return buffer.getvalue()


def upload(data: bytes | None = None, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data if data is not None else image_bytes(), content_type)


def make_product(
    description: str = "Red cotton t-shirt with stripes",
    *,
    sku: str | None = None,
    title: str = "",
    category: str = "t-shirt",
) -> Product:
    return Product.objects.create(
        sku=sku or f"SKU-{next(_sku_counter):05d}",
        title=title or description[:40],
        description=description,
        category=category,
    )


def add_image(product: Product, data: bytes | None = None, name: str = "photo.jpg") -> ProductImage:
    return ProductImage.objects.create(product=product, image=upload(data, name))
