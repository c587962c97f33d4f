"""A seeded synthetic product catalog: packshots drawn with Pillow, texts from templates.

Why: the offline demo model needs image–text pairs whose attributes are known
exactly, so that it can be trained without the internet and so that every
kind of mismatch (wrong colour, wrong category, wrong pattern, unrelated text)
can be measured on its own. Everything is a pure function of a seed. The shapes
are in ``training.demo.silhouettes``, the words of the texts in ``.vocabulary``.

Pure core: PIL, numpy and dataclasses; no Django.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm.auto import tqdm

from training.demo.silhouettes import SILHOUETTES, Box, UnitPen
from training.demo.vocabulary import (
    DETAILS,
    MATERIALS,
    NOUNS,
    PATTERN_WORDS,
    TEMPLATES,
    UNRELATED_DETAILS,
    UNRELATED_OBJECTS,
)

CATEGORIES = ("t-shirt", "mug", "shoe", "lamp", "backpack", "watch", "chair", "bottle")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (205, 30, 40),
    "orange": (245, 130, 25),
    "yellow": (245, 210, 40),
    "green": (40, 150, 60),
    "blue": (30, 85, 200),
    "purple": (120, 50, 165),
    "pink": (250, 120, 185),
    "brown": (120, 72, 38),
    "black": (50, 50, 54),  # lit like a packshot: not below the brightness check
    "white": (234, 234, 230),
}
PATTERNS = ("plain", "striped", "dotted")
MISMATCH_TYPES = ("colour", "category", "pattern", "unrelated")
DEFAULT_IMAGE_SIZE = 224
CATALOG_IMAGE_SIZE = 512  # the "general" quality preset wants >= 500 px

Rng = random.Random


@dataclass(frozen=True)
class ProductSpec:
    """Everything that decides what a synthetic packshot shows (all coordinates relative)."""

    category: str
    colour: str
    pattern: str
    rgb: tuple[int, int, int]  # the named colour, slightly jittered
    scale: float  # product box side / image side
    centre: tuple[float, float]  # product box centre, fraction of the image
    rotation: float  # degrees
    mirrored: bool
    background: tuple[int, int, int]
    pattern_period: float  # stripe / dot spacing, fraction of the product box
    stripe_angle: int  # 0 horizontal, 90 vertical, 45 diagonal
    jpeg_quality: int
    noise: float  # sensor-noise standard deviation, 0-255 scale
    noise_seed: int


@dataclass
class LabelledPair:
    """An image, a text about it, and whether the text is true of the image."""

    image: Image.Image
    text: str
    is_match: bool
    mismatch_type: str | None
    spec: ProductSpec


@dataclass
class SyntheticProduct:
    """One catalog entry for ``seed_demo_catalog``: listing text, JPEG bytes and the truth."""

    sku: str
    title: str
    description: str
    category: str  # the category the listing claims ("other" for unrelated text)
    image_bytes: bytes
    is_mismatch: bool
    mismatch_type: str | None
    spec: ProductSpec


# --- specs ---------------------------------------------------------------------
def _background(rng: Rng) -> tuple[int, int, int]:
    """Mostly white or light grey packshot backdrops, sometimes a pale tint."""
    draw = rng.random()
    if draw < 0.55:
        level = rng.randint(244, 255)
        return (level, level, level)
    if draw < 0.8:
        level = rng.randint(215, 243)
        return (level, level, level)
    tint = rng.choice(list(COLOURS.values()))
    mix = rng.uniform(0.82, 0.92)
    return tuple(round(mix * 250 + (1 - mix) * channel) for channel in tint)


def random_spec(
    rng: Rng,
    *,
    category: str | None = None,
    colour: str | None = None,
    pattern: str | None = None,
) -> ProductSpec:
    """A random product; pass an attribute to fix it."""
    category = category or rng.choice(CATEGORIES)
    colour = colour or rng.choice(list(COLOURS))
    pattern = pattern or rng.choice(PATTERNS)
    jitter = 10 if colour in ("black", "white") else 18
    rgb = tuple(
        min(255, max(0, channel + rng.randint(-jitter, jitter))) for channel in COLOURS[colour]
    )
    # Packshots: the product fills most of the frame, roughly centred.
    scale = rng.uniform(0.6, 0.9)
    slack = (1 - scale) / 4
    centre = (0.5 + rng.uniform(-slack, slack), 0.5 + rng.uniform(-slack, slack))
    return ProductSpec(
        category=category,
        colour=colour,
        pattern=pattern,
        rgb=rgb,
        scale=scale,
        centre=centre,
        rotation=rng.uniform(-10, 10),
        mirrored=rng.random() < 0.5,
        background=_background(rng),
        pattern_period=rng.uniform(0.13, 0.2),
        stripe_angle=rng.choice((0, 0, 90, 45)),
        jpeg_quality=rng.randint(45, 95),
        noise=rng.uniform(1.0, 4.0),
        noise_seed=rng.getrandbits(32),
    )


# --- drawing ---------------------------------------------------------------------
def _product_box(spec: ProductSpec, size: int) -> Box:
    side = spec.scale * size
    cx, cy = spec.centre[0] * size, spec.centre[1] * size
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _outline_colour(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """A darker shade for seams and outlines (a grey for near-black products)."""
    if sum(rgb) < 200:
        return (90, 90, 92)
    return tuple(round(channel * 0.55) for channel in rgb)


def _accent_colour(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Stripes and dots: white on dark/saturated products, charcoal on light ones."""
    luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (40, 40, 44) if luminance > 170 else (248, 248, 246)


def _pattern_layer(spec: ProductSpec, size: int) -> Image.Image:
    """The product surface: its colour, plus stripes or dots in the accent colour."""
    layer = Image.new("RGB", (size, size), spec.rgb)
    if spec.pattern == "plain":
        return layer
    draw = ImageDraw.Draw(layer)
    accent = _accent_colour(spec.rgb)
    period = max(3.0, spec.pattern_period * spec.scale * size)
    if spec.pattern == "striped":
        width = max(1, round(period * 0.38))
        # Diagonal lines sit period * sqrt(2) apart along an edge to be period apart across.
        spacing = period * (math.sqrt(2) if spec.stripe_angle == 45 else 1.0)
        steps = int(2 * size / spacing) + 2
        for step in range(-steps, steps):
            offset = step * spacing
            if spec.stripe_angle == 0:
                draw.line([(0, offset), (size, offset)], fill=accent, width=width)
            elif spec.stripe_angle == 90:
                draw.line([(offset, 0), (offset, size)], fill=accent, width=width)
            else:
                draw.line([(offset, 0), (offset + size, size)], fill=accent, width=width)
        return layer
    radius = period * 0.24
    rows = int(size / period) + 2
    for row in range(rows):
        shift = period / 2 if row % 2 else 0.0
        for column in range(rows):
            x, y = column * period + shift, row * period
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=accent)
    return layer


def _rotate(layer: Image.Image, spec: ProductSpec, box: Box) -> Image.Image:
    if abs(spec.rotation) <= 0.5:
        return layer
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    return layer.rotate(spec.rotation, Image.Resampling.BILINEAR, center=centre)


def product_mask(spec: ProductSpec, size: int = DEFAULT_IMAGE_SIZE) -> Image.Image:
    """Mode "L" mask of the visible coloured (patterned) surface: 255 where the image
    shows the product's colour, 0 on the backdrop and under neutral details."""
    box = _product_box(spec, size)
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    SILHOUETTES[spec.category](
        UnitPen(draw, box, 255, spec.mirrored),
        UnitPen(draw, box, 0, spec.mirrored, force_ink=True),
    )
    return _rotate(mask, spec, box)


def draw_product(spec: ProductSpec, size: int = DEFAULT_IMAGE_SIZE) -> Image.Image:
    """The clean packshot (no noise, no compression), RGB ``size`` x ``size``."""
    box = _product_box(spec, size)
    mask = Image.new("L", (size, size), 0)
    details = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    outline = _outline_colour(spec.rgb)
    SILHOUETTES[spec.category](
        UnitPen(ImageDraw.Draw(mask), box, 255, spec.mirrored),
        UnitPen(ImageDraw.Draw(details), box, (*outline, 255), spec.mirrored),
    )
    product = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    product.paste(_pattern_layer(spec, size), (0, 0), mask)
    edge = mask.filter(ImageFilter.FIND_EDGES)
    product.paste(Image.new("RGBA", (size, size), (*outline, 255)), (0, 0), edge)
    product.alpha_composite(details)
    product = _rotate(product, spec, box)
    canvas = Image.new("RGBA", (size, size), (*spec.background, 255))
    shadow = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(shadow).ellipse(
        (box[0] + 0.1 * (box[2] - box[0]), box[3] - 0.03 * size, box[2], box[3] + 0.02 * size),
        fill=(0, 0, 0, 28),
    )
    canvas.alpha_composite(shadow.filter(ImageFilter.BoxBlur(max(1, size // 60))))
    canvas.alpha_composite(product)
    return canvas.convert("RGB")


def render_jpeg(
    spec: ProductSpec, rng_or_seed: Rng | int | None = None, *, size: int = DEFAULT_IMAGE_SIZE
) -> bytes:
    """The packshot with sensor noise, JPEG-encoded at the spec's quality."""
    seed = spec.noise_seed if rng_or_seed is None else rng_or_seed
    if isinstance(seed, random.Random):
        seed = seed.getrandbits(32)
    pixels = np.asarray(draw_product(spec, size), dtype=np.float32)
    noise = np.random.default_rng(seed).normal(0.0, spec.noise, pixels.shape)
    noisy = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    noisy.save(buffer, format="JPEG", quality=spec.jpeg_quality)
    return buffer.getvalue()


def render_image(
    spec: ProductSpec, rng_or_seed: Rng | int | None = None, *, size: int = DEFAULT_IMAGE_SIZE
) -> Image.Image:
    """The packshot as a catalog would receive it: noisy, JPEG round-tripped, RGB."""
    image = Image.open(io.BytesIO(render_jpeg(spec, rng_or_seed, size=size)))
    return image.convert("RGB")


def render_model_pixels(spec: ProductSpec, size: int = 128, model_size: int = 64) -> np.ndarray:
    """(model_size, model_size, 3) uint8: the packshot rendered small, resized as CLIP's
    image processor resizes it (bicubic). Cheap enough to pre-render a training set."""
    image = render_image(spec, size=size)
    return np.asarray(image.resize((model_size, model_size), Image.Resampling.BICUBIC))


# --- descriptions ----------------------------------------------------------------------
def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe(spec: ProductSpec, rng: Rng, mention_pattern: bool = True) -> str:
    """A catalog description of ``spec`` from one of several templates.

    ``mention_pattern=False`` leaves the pattern out (the demo model trains on
    such texts, so patterns are left for reviewers' verdicts to teach).
    """
    template = rng.choice(TEMPLATES)
    pattern = rng.choice(PATTERN_WORDS[spec.pattern]) + " " if mention_pattern else ""
    text = template.format(
        pattern=pattern,
        colour=spec.colour,
        material=rng.choice(MATERIALS[spec.category]),
        noun=rng.choice(NOUNS[spec.category]),
        detail=rng.choice(DETAILS[spec.category]),
    )
    return _capitalise(text)


def unrelated_description(rng: Rng) -> str:
    """A listing for a product outside the catalog's categories, with no colour or pattern."""
    return _capitalise(f"{rng.choice(UNRELATED_OBJECTS)}, {rng.choice(UNRELATED_DETAILS)}")


def claimed_spec(spec: ProductSpec, kind: str, rng: Rng) -> ProductSpec | None:
    """The product a mismatched text claims: ``spec`` with one attribute changed.

    ``None`` for ``unrelated`` (the text is about something else entirely).
    """
    if kind == "colour":
        return replace(spec, colour=rng.choice([c for c in COLOURS if c != spec.colour]))
    if kind == "category":
        return replace(spec, category=rng.choice([c for c in CATEGORIES if c != spec.category]))
    if kind == "pattern":
        return replace(spec, pattern=rng.choice([p for p in PATTERNS if p != spec.pattern]))
    if kind == "unrelated":
        return None
    raise ValueError(f"Unknown mismatch type {kind!r}; choose from {MISMATCH_TYPES}")


def mismatch_description(
    spec: ProductSpec, kind: str, rng: Rng, mention_pattern: bool = True
) -> str:
    """A description that contradicts the image of ``spec`` in exactly attribute ``kind``."""
    claim = claimed_spec(spec, kind, rng)
    if claim is None:
        return unrelated_description(rng)
    return describe(claim, rng, mention_pattern=mention_pattern or kind == "pattern")


# --- data sets ---------------------------------------------------------------------------
def _pair_parts(
    rng: Rng, mismatch_rate: float, mismatch_types: Sequence[str], mention_pattern: bool
) -> tuple[ProductSpec, str, str | None, ProductSpec | None]:
    spec = random_spec(rng)
    if rng.random() >= mismatch_rate:
        return spec, describe(spec, rng, mention_pattern), None, spec
    kind = rng.choice(tuple(mismatch_types))
    claim = claimed_spec(spec, kind, rng)
    if claim is None:
        return spec, unrelated_description(rng), kind, None
    return spec, describe(claim, rng, mention_pattern or kind == "pattern"), kind, claim


def make_pairs(
    n: int,
    seed: int,
    mismatch_rate: float = 0.5,
    mismatch_types: Sequence[str] = MISMATCH_TYPES,
    *,
    image_size: int = DEFAULT_IMAGE_SIZE,
    mention_pattern: bool = True,
    progress: str | None = None,
) -> list[LabelledPair]:
    """``n`` labelled image–text pairs, the same for the same arguments.

    ``progress``, when given, is the label of a tqdm bar on stderr (one step a pair).
    """
    unknown = set(mismatch_types) - set(MISMATCH_TYPES)
    if unknown:
        raise ValueError(f"Unknown mismatch types {sorted(unknown)}")
    rng = random.Random(seed)
    pairs = []
    for _ in tqdm(range(n), disable=progress is None, desc=progress, unit="pair"):
        spec, text, kind, _claim = _pair_parts(rng, mismatch_rate, mismatch_types, mention_pattern)
        image = render_image(spec, size=image_size)
        pairs.append(LabelledPair(image, text, kind is None, kind, spec))
    return pairs


def _title(claim: ProductSpec | None, description: str) -> str:
    if claim is None:
        return description.split(",")[0]
    return _capitalise(f"{claim.colour} {NOUNS[claim.category][0]}")


def make_catalog(
    n: int, seed: int, mismatch_rate: float = 0.2, *, image_size: int = CATALOG_IMAGE_SIZE
) -> list[SyntheticProduct]:
    """``n`` catalog products; a ``mismatch_rate`` share show an image that contradicts the text.

    Title, description and category agree with each other (they are what the
    catalog claims); only the image is wrong, as when a photo is mixed up.
    """
    rng = random.Random(seed)
    products = []
    for index in range(n):
        spec, text, kind, claim = _pair_parts(rng, mismatch_rate, MISMATCH_TYPES, True)
        products.append(
            SyntheticProduct(
                sku=f"DEMO-{seed}-{index:05d}",
                title=_title(claim, text),
                description=text,
                category=claim.category if claim else "other",
                image_bytes=render_jpeg(spec, size=image_size),
                is_mismatch=kind is not None,
                mismatch_type=kind,
                spec=spec,
            )
        )
    return products
