"""The synthetic catalog: deterministic, and every attribute it claims is really drawn."""

from __future__ import annotations

import io
import random
import re
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image, ImageFilter

from training.demo.catalog import (
    CATALOG_IMAGE_SIZE,
    CATEGORIES,
    COLOURS,
    MISMATCH_TYPES,
    NOUNS,
    PATTERN_WORDS,
    PATTERNS,
    describe,
    make_catalog,
    make_pairs,
    mismatch_description,
    product_mask,
    random_spec,
    render_image,
)


def _words(pattern_words: dict[str, tuple[str, ...]], text: str) -> set[str]:
    """Which keys of ``pattern_words`` the text names (whole words, any case)."""
    return {
        key
        for key, words in pattern_words.items()
        if any(re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text, re.I) for w in words)
    }


def attributes_named(text: str) -> dict[str, set[str]]:
    return {
        "colour": _words({name: (name,) for name in COLOURS}, text),
        "category": _words(NOUNS, text),
        "pattern": _words(PATTERN_WORDS, text),
    }


def product_pixels(spec, size: int = 224) -> np.ndarray:
    """Pixels well inside the product surface (mask eroded so edges and outlines drop out)."""
    mask = np.asarray(product_mask(spec, size).filter(ImageFilter.MinFilter(7))) > 250
    return np.asarray(render_image(spec, size=size), dtype=np.float32)[mask]


def test_pairs_are_the_same_for_the_same_seed():
    first, again, other = make_pairs(10, seed=3), make_pairs(10, seed=3), make_pairs(10, seed=4)
    assert [p.text for p in first] == [p.text for p in again]
    assert [p.spec for p in first] == [p.spec for p in again]
    assert all(
        np.array_equal(np.asarray(a.image), np.asarray(b.image))
        for a, b in zip(first, again, strict=True)
    )
    assert [p.text for p in first] != [p.text for p in other]


@pytest.mark.parametrize("colour", list(COLOURS))
def test_product_pixels_have_the_named_colour(colour):
    rng = random.Random(11)
    for category in CATEGORIES:
        spec = random_spec(rng, category=category, colour=colour, pattern="plain")
        median = np.median(product_pixels(spec), axis=0)
        nearest = min(COLOURS, key=lambda name: np.abs(median - COLOURS[name]).sum())
        assert nearest == colour, (category, median)


@pytest.mark.parametrize("pattern", ["striped", "dotted"])
def test_patterned_product_differs_from_plain(pattern):
    rng = random.Random(5)
    for category in CATEGORIES:
        plain = random_spec(rng, category=category, colour="blue", pattern="plain")
        patterned = replace(plain, pattern=pattern)
        plain_pixels, patterned_pixels = product_pixels(plain), product_pixels(patterned)
        # The accent (white on blue) covers a good share of a patterned surface only.
        assert (plain_pixels.min(axis=1) > 180).mean() < 0.02
        assert (patterned_pixels.min(axis=1) > 180).mean() > 0.08, category
        # ... while a good share of the product keeps its colour.
        blue = np.abs(patterned_pixels - COLOURS["blue"]).sum(axis=1) < 90
        assert blue.mean() > 0.25, category


def test_descriptions_name_the_true_attributes():
    rng = random.Random(2)
    for _ in range(200):
        spec = random_spec(rng)
        named = attributes_named(describe(spec, rng))
        assert named == {
            "colour": {spec.colour},
            "category": {spec.category},
            "pattern": {spec.pattern},
        }
        assert attributes_named(describe(spec, rng, mention_pattern=False))["pattern"] == set()


@pytest.mark.parametrize("kind", MISMATCH_TYPES)
def test_each_mismatch_changes_exactly_its_attribute(kind):
    rng = random.Random(7)
    for _ in range(100):
        spec = random_spec(rng)
        named = attributes_named(mismatch_description(spec, kind, rng))
        truth = {"colour": {spec.colour}, "category": {spec.category}, "pattern": {spec.pattern}}
        if kind == "unrelated":
            assert named == {"colour": set(), "category": set(), "pattern": set()}
            continue
        for attribute, values in named.items():
            if attribute == kind:
                assert len(values) == 1
                assert values != truth[attribute]
            else:
                assert values == truth[attribute]


def test_pairs_mix_matches_and_every_mismatch_type():
    pairs = make_pairs(200, seed=1, mismatch_rate=0.5)
    kinds = [p.mismatch_type for p in pairs]
    assert 70 < sum(p.is_match for p in pairs) < 130
    assert set(kinds) == {None, *MISMATCH_TYPES}
    assert all(p.is_match == (p.mismatch_type is None) for p in pairs)
    assert {p.spec.pattern for p in pairs} == set(PATTERNS)


def test_catalog_listings_agree_with_themselves_and_only_the_image_is_wrong():
    products = make_catalog(30, seed=9, mismatch_rate=0.3)
    assert len({p.sku for p in products}) == 30
    assert 3 <= sum(p.is_mismatch for p in products) <= 18
    for product in products:
        image = Image.open(io.BytesIO(product.image_bytes))
        assert image.format == "JPEG"
        assert image.size == (CATALOG_IMAGE_SIZE, CATALOG_IMAGE_SIZE)
        named = attributes_named(product.description)
        if product.mismatch_type == "unrelated":
            assert product.category == "other"
            continue
        assert named["category"] == {product.category}
        assert named["colour"] <= {product.title.split()[0].lower()}
        if not product.is_mismatch:
            assert product.category == product.spec.category
    assert make_catalog(5, seed=9, mismatch_rate=0.3)[0] == products[0]
