"""Attribute-level explanation of a score: which stated attribute the image contradicts.

Pure core. For each attribute family (colour, material, pattern, category) the
description states a value of (``clipanalysis.claims``), CLIP ranks the family's
values against the image with the family's prompt templates; a reviewer then
reads "text says red (0.02), image looks blue (0.91)" instead of a bare number.

Per family the explanation is ``{"stated", "seen", "confidence", "agrees"}``
plus ``stated_probability`` (the stated values' share), ``stated_probabilities``,
``best_alternative`` (the likeliest value the text does not state), its
``best_alternative_probability``, ``negated`` (values the text denies) and
``conflict``: the image shows a value the text does not state, at least as
likely as ``conflict_confidence``.

The prompts' text embeddings are computed once per loaded model (so per model
version) and family, so an explanation costs one matrix product per family: no
text-encoder and no image-encoder call beyond the scoring's own.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence

import torch

from clipanalysis.claims import Family, extract_claims, stated_values
from clipanalysis.clip_service import ClipService

COLOURS = (
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
    "grey", "beige", "navy",
)  # fmt: skip
FAMILY_TEMPLATES = {
    "colour": ("a photo of a {value} product", "a {value} object"),
    "category": ("a photo of a {value}", "a product photo of a {value}"),
}
# A conflict is reported when the image's best value the text does not state is at least
# this likely (softmax over the family's values).
DEFAULT_CONFLICT_CONFIDENCE = 0.5

# Loaded model → {(values, templates): normalised (n_values, dim) prompt embeddings}.
# Weakly keyed: a model that is unloaded takes its prompts with it.
_prompt_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_prompt_lock = threading.Lock()


def mentioned(description: str, values: Sequence[str]) -> list[str]:
    """Values the description states (see ``clipanalysis.claims``), in order of appearance."""
    return stated_values(description, Family.of("values", values))


def family_of(name: str, values: Sequence[str] | Family) -> Family:
    """A ``Family`` as given, or one from plain values with the family's default templates."""
    if isinstance(values, Family):
        return values
    family = Family.of(name, values)
    templates = FAMILY_TEMPLATES.get(name)
    return Family(name, family.terms, templates) if templates else family


def prompt_embeddings(service: ClipService, family: Family) -> torch.Tensor:
    """(n_values, dim) normalised mean prompt embedding per value, cached per model."""
    key = (family.values, family.templates)
    with _prompt_lock:
        cached = _prompt_cache.setdefault(service.model, {}).get(key)
    if cached is not None:
        return cached
    prompts = [
        template.replace("{value}", value)
        for value in family.values
        for template in family.templates
    ]
    # In service-sized batches: the service's own text cache may be cleared between calls.
    step = max(1, service.batch_size)
    chunks = [service.text_embeddings(prompts[i : i + step]) for i in range(0, len(prompts), step)]
    embeddings = torch.cat(chunks).view(len(family.values), len(family.templates), -1)
    embeddings = torch.nn.functional.normalize(embeddings.mean(dim=1), dim=-1)
    with _prompt_lock:
        _prompt_cache.setdefault(service.model, {})[key] = embeddings
    return embeddings


def value_probabilities(
    service: ClipService, image_embedding: torch.Tensor, family: Family
) -> dict[str, float]:
    """Softmax over the family's values of the scaled image–prompt similarities."""
    scale = float(service.model.logit_scale.detach().float().exp().cpu())
    logits = scale * (prompt_embeddings(service, family) @ image_embedding.float())
    return dict(zip(family.values, logits.softmax(dim=0).tolist(), strict=True))


def explain_family(
    probabilities: Mapping[str, float],
    stated: Sequence[str],
    negated: Sequence[str] = (),
    conflict_confidence: float = DEFAULT_CONFLICT_CONFIDENCE,
) -> dict:
    """The explanation of one family from its value probabilities and the text's claims."""
    ranked = sorted(probabilities.items(), key=lambda pair: -pair[1])
    seen, confidence = ranked[0]
    alternative, alternative_probability = next(
        ((value, p) for value, p in ranked if value not in stated), (None, 0.0)
    )
    stated_probability = sum(probabilities.get(value, 0.0) for value in stated)
    agrees = seen in stated
    return {
        "stated": list(stated),
        "seen": seen,
        "confidence": round(confidence, 4),
        "agrees": agrees,
        "stated_probability": round(stated_probability, 4),
        "stated_probabilities": {
            value: round(probabilities.get(value, 0.0), 4) for value in stated
        },
        "best_alternative": alternative,
        "best_alternative_probability": round(alternative_probability, 4),
        "negated": list(negated),
        "conflict": not agrees and alternative_probability >= conflict_confidence,
    }


def explain(
    service: ClipService,
    image_embedding: torch.Tensor,
    description: str,
    families: Mapping[str, Sequence[str] | Family],
    conflict_confidence: float = DEFAULT_CONFLICT_CONFIDENCE,
) -> dict[str, dict]:
    """Per family the description states a value of: what it states, what the image shows."""
    explanation = {}
    for name, values in families.items():
        family = family_of(name, values)
        if len(family.values) < 2:
            continue
        claims = extract_claims(description, family)
        if not claims.stated:
            continue
        probabilities = value_probabilities(service, image_embedding, family)
        explanation[name] = explain_family(
            probabilities, claims.stated, claims.negated, conflict_confidence
        )
    return explanation


def conflicting_families(explanation: Mapping[str, dict] | None) -> list[str]:
    """The families whose stated value the image contradicts with confidence."""
    return [name for name, entry in (explanation or {}).items() if entry.get("conflict")]
