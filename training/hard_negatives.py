"""Hard negatives: texts that are wrong about an image the way real mismatches are.

Why: random pairs (a mug's image with a lamp's text) are so easy that a
validation set made of them reads ROC-AUC 1.000 before any training, and a
model trained on them learns nothing a reviewer needs. Real mismatches get one
thing wrong: the colour, the pattern, the material or the product type. So:

- **attribute swaps**: a confirmed text with the words of exactly one attribute
  (colour, pattern, material, category) replaced by another value of that
  attribute;
- **same-category swaps**: an image with another product's confirmed text from
  the same category, kept only when the two texts state different values of
  some attribute.

Never an accidental match: words come in groups of synonyms (``navy`` is a
blue, ``polka-dot`` is ``dotted``, ``tee`` is a ``t-shirt``); a swap replaces
*every* word of the stated group and only with a group the text does not
mention; a text that states two values of the attribute ("red and white") is
not swapped on it; a same-category swap needs an attribute both texts state
with no value in common.

Pure core: strings and ``random.Random``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

# Groups of words that name the same value; a swap moves to another group of the family.
ATTRIBUTE_GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "colour": (
        ("red", "crimson", "scarlet"),
        ("orange",),
        ("yellow", "mustard"),
        ("green", "olive"),
        ("blue", "navy", "cobalt"),
        ("purple", "violet", "lilac"),
        ("pink", "rose"),
        ("brown", "tan", "chocolate"),
        ("black",),
        ("white", "ivory"),
        ("grey", "gray", "charcoal"),
        ("beige", "cream"),
    ),
    "pattern": (
        ("plain", "solid", "solid-colour"),
        ("striped", "stripe-pattern", "stripes", "pinstripe"),
        ("dotted", "polka-dot", "spotted"),
        ("checked", "plaid", "checkered", "gingham"),
        ("floral", "flower-print"),
    ),
    # Grouped by what a photo shows: cotton and jersey look alike, wood and glass do not.
    "material": (
        ("cotton", "organic cotton", "jersey", "linen", "canvas", "wool", "knit"),
        ("nylon", "polyester", "mesh"),
        ("ceramic", "porcelain", "stoneware"),
        ("metal", "steel", "stainless steel", "brushed", "aluminium", "aluminum"),
        ("wooden", "wood", "oak", "bamboo"),
        ("plastic", "bpa-free", "silicone"),
        ("glass",),
        ("leather", "leather-strap", "suede"),
        ("upholstered", "velvet"),
    ),
    "category": (
        ("t-shirt", "tee", "shirt"),
        ("mug", "coffee mug", "cup"),
        ("sneaker", "shoe", "running shoe", "trainer"),
        ("lamp", "table lamp", "desk lamp"),
        ("backpack", "rucksack", "daypack"),
        ("watch", "wristwatch", "analog watch"),
        ("chair", "dining chair", "side chair"),
        ("bottle", "water bottle", "drinking bottle"),
        ("dress",),
        ("phone", "smartphone"),
    ),
}
ATTRIBUTES = tuple(ATTRIBUTE_GROUPS)
SAME_CATEGORY = "same-category"


@dataclass(frozen=True)
class HardNegative:
    """A text that is false of the image, and what makes it false."""

    text: str
    attribute: str  # an attribute family, or "same-category" for another product's text
    stated: tuple[str, ...]  # the group the true text states ("" for same-category)
    swapped_to: str


@cache
def _pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])", re.IGNORECASE)


def stated_groups(text: str, attribute: str) -> list[int]:
    """Indices of the attribute's groups that ``text`` names (whole words, any case)."""
    return [
        index
        for index, group in enumerate(ATTRIBUTE_GROUPS[attribute])
        if any(_pattern(word).search(text) for word in group)
    ]


def swap_attribute(text: str, attribute: str, rng: random.Random) -> HardNegative | None:
    """``text`` with its one stated value of ``attribute`` replaced by another; None when
    the text states none, or more than one (then no replacement is surely false)."""
    stated = stated_groups(text, attribute)
    if len(stated) != 1:
        return None
    groups = ATTRIBUTE_GROUPS[attribute]
    others = [index for index in range(len(groups)) if index != stated[0]]
    target = groups[rng.choice(others)]
    replacement = target[0]
    swapped = text
    # Longest words first, so "organic cotton" goes before "cotton" does.
    for word in sorted(groups[stated[0]], key=len, reverse=True):
        swapped = _pattern(word).sub(replacement, swapped)
    if stated_groups(swapped, attribute) != [groups.index(target)]:
        return None  # a word of the old value survived inside another: not surely false
    return HardNegative(swapped, attribute, groups[stated[0]], replacement)


def attribute_swaps(
    text: str,
    rng: random.Random,
    attributes: Sequence[str] = ATTRIBUTES,
    per_text: int = 1,
) -> list[HardNegative]:
    """Up to ``per_text`` single-attribute swaps of ``text``, each on another attribute."""
    candidates = [name for name in attributes if len(stated_groups(text, name)) == 1]
    rng.shuffle(candidates)
    swaps = []
    for attribute in candidates:
        if len(swaps) == per_text:
            break
        swap = swap_attribute(text, attribute, rng)
        if swap is not None:
            swaps.append(swap)
    return swaps


def visibly_different(text: str, other: str, attributes: Sequence[str] = ATTRIBUTES) -> bool:
    """True when some attribute is stated by both texts with no value in common, so
    ``other`` is surely false of what ``text`` truly describes."""
    for attribute in attributes:
        mine, theirs = set(stated_groups(text, attribute)), set(stated_groups(other, attribute))
        if mine and theirs and not mine & theirs:
            return True
    return False


def same_category_swap(
    text: str,
    donors: Iterable[str],
    rng: random.Random,
    attributes: Sequence[str] = ATTRIBUTES,
) -> HardNegative | None:
    """Another product's confirmed text from the same category that is visibly different."""
    eligible = sorted({donor for donor in donors if visibly_different(text, donor, attributes)})
    if not eligible:
        return None
    chosen = rng.choice(eligible)
    return HardNegative(chosen, SAME_CATEGORY, (), chosen)


def texts_by_category(texts: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Deduplicated, sorted texts per category (a stable donor pool for a seeded draw)."""
    return {category: sorted(set(values)) for category, values in texts.items()}
