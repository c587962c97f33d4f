"""Attribute-level explanation of a score: which stated attribute the image contradicts.

Pure core. For each attribute family (colour, category) the description
mentions, CLIP ranks the family's values against the image; a reviewer then
reads "text says red, image looks blue (0.81)" instead of a bare number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch

from clipanalysis.clip_service import ClipService

COLOURS = (
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
    "grey", "beige", "navy",
)  # fmt: skip
FAMILY_TEMPLATES = {
    "colour": ("a photo of a {value} product", "a {value} object"),
    "category": ("a photo of a {value}", "a product photo of a {value}"),
}


def mentioned(description: str, values: Sequence[str]) -> list[str]:
    """Values named in the description as whole words (``t-shirt`` included)."""
    text = description.lower()
    return [value for value in values if re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text)]


def explain(
    service: ClipService,
    image_embedding: torch.Tensor,
    description: str,
    families: Mapping[str, Sequence[str]],
) -> dict[str, dict]:
    """Per family the description mentions: stated value(s), the image's best value, agreement."""
    explanation = {}
    for family, values in families.items():
        stated = mentioned(description, values)
        if not stated or len(values) < 2:
            continue
        templates = FAMILY_TEMPLATES.get(family, ("a photo of a {value}",))
        ranking = service.zero_shot_classify(
            image_embedding,
            list(values),
            templates=[t.replace("{value}", "{label}") for t in templates],
        )
        seen, confidence = next(iter(ranking.items()))
        explanation[family] = {
            "stated": stated,
            "seen": seen,
            "confidence": round(confidence, 4),
            "agrees": seen in stated,
        }
    return explanation
