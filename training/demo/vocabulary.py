"""The words synthetic catalog descriptions are made of, per category and pattern.

Why apart from ``training.demo.catalog``: they are data, and the templates fill
them in (``describe``): a noun, a material and a detail of the product's category,
the colour's name, and a word for the pattern when the text names it.
"""

from __future__ import annotations

# Per category: what a listing calls the product (the first is its title noun),
NOUNS = {
    "t-shirt": ("t-shirt", "tee", "T-shirt"),
    "mug": ("mug", "coffee mug", "cup"),
    "shoe": ("sneaker", "shoe", "running shoe"),
    "lamp": ("lamp", "table lamp", "desk lamp"),
    "backpack": ("backpack", "rucksack", "daypack"),
    "watch": ("watch", "wristwatch", "analog watch"),
    "chair": ("chair", "dining chair", "side chair"),
    "bottle": ("bottle", "water bottle", "drinking bottle"),
}
# one more thing a listing says about it,
DETAILS = {
    "t-shirt": ("with round neck", "with short sleeves", "regular fit", "with crew neck"),
    "mug": ("350 ml", "with handle", "dishwasher safe", "300 ml"),
    "shoe": ("with rubber sole", "lace-up", "size 42", "for running"),
    "lamp": ("with E27 socket", "40 cm tall", "with fabric shade", "for reading"),
    "backpack": ("20 L", "with laptop sleeve", "with front pocket", "for travel"),
    "watch": ("with date display", "water resistant", "40 mm case", "quartz movement"),
    "chair": ("with four legs", "stackable", "with high backrest", "for the kitchen"),
    "bottle": ("750 ml", "500 ml", "with screw cap", "leak-proof"),
}
# and what it is made of.
MATERIALS = {
    "t-shirt": ("cotton", "organic cotton", "jersey"),
    "mug": ("ceramic", "porcelain", "stoneware"),
    "shoe": ("canvas", "leather", "mesh"),
    "lamp": ("metal", "linen", "brushed"),
    "backpack": ("nylon", "canvas", "polyester"),
    "watch": ("steel", "leather-strap", "silicone"),
    "chair": ("wooden", "plastic", "upholstered"),
    "bottle": ("stainless steel", "glass", "BPA-free"),
}
# How a description puts them together (``describe`` fills in every field).
TEMPLATES = (
    "{pattern}{colour} {material} {noun} {detail}",
    "{pattern}{colour} {material} {noun}, {detail}",
    "{noun} in {pattern}{colour}, {material}, {detail}",
    "Classic {pattern}{colour} {noun} for everyday use",
    "{pattern}{colour} {noun}",
    "{material} {noun}, {pattern}{colour}, {detail}",
)
# The words for a pattern, when a description names it.
PATTERN_WORDS = {
    "plain": ("plain", "solid"),
    "striped": ("striped", "stripe-pattern"),
    "dotted": ("dotted", "polka-dot"),
}
# Listings of products outside the catalog: an object and a detail.
UNRELATED_OBJECTS = (
    "wireless headphones", "kitchen knife set", "yoga mat", "board game", "phone case",
    "tennis racket", "spiral notebook", "garden hose", "frying pan", "umbrella",
    "sunglasses", "wool scarf", "bicycle helmet", "desk calendar", "cutting board",
    "electric toothbrush", "photo frame", "dog leash", "guitar strings", "laptop stand",
    "bath towel", "scented candle", "jigsaw puzzle", "travel pillow", "pocket knife",
)  # fmt: skip
UNRELATED_DETAILS = (
    "for the whole family", "with carrying case", "gift edition", "set of 2",
    "easy to clean", "made in Portugal", "with two-year warranty", "compact design",
)  # fmt: skip
