"""Attribute-level explanation of a score: which stated attribute the image contradicts.

Pure core. For each attribute family (colour, material, pattern, category) the
description states a value of (``clipanalysis.claims``), CLIP ranks the family's
values against the image; a reviewer then reads "text says red (0.02), image
looks blue (0.91)" instead of a bare number. Three probes rank them:

* ``counterfactual``: the description itself, and one
  counterfactual per alternative value with the stated word replaced in place
  ("Red cotton T-shirts" → "Blue cotton T-shirts", …; plural and capital kept).
  The image's scaled similarities to these texts are softmaxed: the original's
  share is the stated value's probability, each counterfactual's share its
  alternative's. Everything else in the text is held fixed, so a value is
  compared in the kind of sentence the model was trained on, not in a prompt
  ("a photo of a backpack") it may never have seen; on the demo catalog it names
  a wrong attribute on 1.9 % of matching pairs, the templates on 46.7 % (README,
  Performance).
  With two stated values ("blue and white mug"), each is replaced in turn and
  a text's share is split between the values it names.
* ``templates``: the family's values in its prompt templates, softmaxed.
* ``screened`` (the default): the templates first, whose prompts are embedded once
  per model, then the counterfactual probe for every family of a *flagged* row
  (its similarity below the threshold: the reviewer reads this explanation) and,
  on a passing row, for each family whose templates do not see a stated value.
  A passing row whose templates agree with its text keeps the template numbers (no
  conflict: the image's likeliest value is a stated one) and skips the ~40
  counterfactual texts a new description costs, most of a fresh score's time
  (README, Performance). What the screen can miss: a passing row whose templates
  agree but whose counterfactuals would conflict. Each family's entry says which
  probe ranked it (``probe``).

Per family the explanation is ``{"stated", "seen", "confidence", "agrees"}``
plus ``stated_probability`` (the stated values' share), ``stated_probabilities``,
``best_alternative`` (the likeliest value the text does not state), its
``best_alternative_probability``, ``negated`` (values the text denies), ``probe``
(``counterfactual`` or ``templates``: which one ranked the values) and
``conflict``: the image's likeliest value is one the text does not state, and the
stated values are together at most ``1 - conflict_confidence`` likely (with the
counterfactual probe, a swapped colour's probability spreads over look-alike
alternatives, "blue" and "navy blue", while the stated one drops to nothing).

Counterfactual texts go through the service's text-embedding cache (per process,
and the shared one where configured): a description explained again (a re-score,
``reexplain``) costs no text-encoder call. The templates' prompt embeddings are
computed once per loaded model (so per model version) and family. Neither probe
calls the image encoder beyond the scoring's own.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence

import torch

from clipanalysis.claims import Claims, Family, Span, extract_claims, plural, stated_values
from clipanalysis.clip_service import ClipService

COLOURS = (
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
    "grey", "beige", "navy",
)  # fmt: skip
FAMILY_TEMPLATES = {
    "colour": ("a photo of a {value} product", "a {value} object"),
    "category": ("a photo of a {value}", "a product photo of a {value}"),
}
# A conflict is reported when the image's likeliest value is not one the text states and
# the values the text does not state are together at least this likely (the stated ones
# at most 1 - this): how sure the explanation is that the text is wrong. Measured on the
# demo catalog (README, "Attribute explanations"): 0.95.
DEFAULT_CONFLICT_CONFIDENCE = 0.95
# ... and the likeliest alternative at least this likely (or at least the confidence, if
# lower), so that a family whose probability spreads evenly over many values (one the
# model cannot see) never conflicts.
MIN_ALTERNATIVE_PROBABILITY = 0.2
COUNTERFACTUAL = "counterfactual"
TEMPLATES = "templates"
SCREENED = "screened"
PROBES = (SCREENED, COUNTERFACTUAL, TEMPLATES)
DEFAULT_PROBE = SCREENED

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


def written_like(replacement: str, span_text: str, in_plural: bool) -> str:
    """``replacement`` in the span's number and case: "T-SHIRTS" → "MUGS", "Red" → "Blue"."""
    word = plural(replacement) if in_plural else replacement
    if span_text.isupper() and len(span_text) > 1:
        return word.upper()
    if span_text[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def replaced(description: str, spans: Sequence[Span], value: str) -> str:
    """``description`` with each of ``spans`` replaced by ``value`` (as the span is written)."""
    text = description
    for span in sorted(spans, key=lambda span: -span.start):
        written = written_like(value, description[span.start : span.end], span.plural)
        text = text[: span.start] + written + text[span.end :]
    return text


def counterfactuals(description: str, family: Family, claims: Claims) -> list[tuple[str, str, str]]:
    """``(stated value replaced, alternative, text)`` for each stated value and alternative."""
    variants = []
    for value in claims.stated:
        spans = [span for span in claims.spans if span.value == value]
        for alternative in family.values:
            if alternative not in claims.stated:
                variants.append((value, alternative, replaced(description, spans, alternative)))
    return variants


def counterfactual_probabilities(
    service: ClipService,
    image_embedding: torch.Tensor,
    description: str,
    probed: Mapping[str, tuple[Family, Claims]],
) -> dict[str, dict[str, float]]:
    """Per family, each value's share of the softmax over the description and its
    counterfactuals; every family's texts are embedded in one (cached) call.

    Each text's share goes to the values it names, evenly: with one stated value,
    the original's share is the stated value's and each counterfactual's its
    alternative's; with two ("blue and white"), the original's is split between
    them and "red and white" gives half to red, half to white. They sum to 1.
    """
    variants = {
        name: counterfactuals(description, family, claims)
        for name, (family, claims) in probed.items()
    }
    texts = [description, *(text for found in variants.values() for _, _, text in found)]
    scale = float(service.model.logit_scale.detach().float().exp().cpu())
    logits = scale * (service.text_embeddings(texts) @ image_embedding.float())
    probabilities = {}
    offset = 1
    for name, (family, claims) in probed.items():
        found = variants[name]
        family_logits = torch.cat([logits[:1], logits[offset : offset + len(found)]])
        offset += len(found)
        shares = family_logits.softmax(dim=0).tolist()
        values = dict.fromkeys(family.values, 0.0)
        kept = len(claims.stated)
        for value in claims.stated:
            values[value] += shares[0] / kept
        for (value, alternative, _), share in zip(found, shares[1:], strict=True):
            for named in (alternative, *(other for other in claims.stated if other != value)):
                values[named] += share / kept
        probabilities[name] = values
    return probabilities


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
    conflict = (
        not agrees
        and 1.0 - stated_probability >= conflict_confidence
        and alternative_probability >= min(conflict_confidence, MIN_ALTERNATIVE_PROBABILITY)
    )
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
        "conflict": conflict,
    }


def explain(
    service: ClipService,
    image_embedding: torch.Tensor,
    description: str,
    families: Mapping[str, Sequence[str] | Family],
    conflict_confidence: float = DEFAULT_CONFLICT_CONFIDENCE,
    probe: str = DEFAULT_PROBE,
    flagged: bool = True,
) -> dict[str, dict]:
    """Per family the description states a value of: what it states, what the image shows.

    ``probe`` is ``screened``, ``counterfactual`` or ``templates`` (module docstring);
    ``flagged``: the row's similarity is below its threshold (the screen then probes
    every family with counterfactuals). A family whose mentions cannot be located in
    the text (``Claims.spans`` empty: a rare normalisation) is probed with its templates.
    """
    if probe not in PROBES:
        raise ValueError(f"Unknown attribute probe {probe!r}; expected one of {PROBES}")
    probed: dict[str, tuple[Family, Claims]] = {}
    for name, values in families.items():
        family = family_of(name, values)
        if len(family.values) < 2:
            continue
        claims = extract_claims(description, family)
        if claims.stated:
            probed[name] = (family, claims)
    located = {name: found for name, found in probed.items() if found[1].spans}
    screen = probe == TEMPLATES or (probe == SCREENED and not flagged)
    templates = (
        {
            name: value_probabilities(service, image_embedding, family)
            for name, (family, _) in probed.items()
        }
        if screen
        else {}
    )
    if probe == TEMPLATES:
        located = {}
    elif screen:  # counterfactuals only where the templates do not see a stated value
        located = {
            name: found
            for name, found in located.items()
            if max(templates[name], key=templates[name].get) not in found[1].stated
        }
    counterfactual = (
        counterfactual_probabilities(service, image_embedding, description, located)
        if located
        else {}
    )
    explanation = {}
    for name, (family, claims) in probed.items():
        probabilities = (
            counterfactual.get(name)
            or templates.get(name)
            or value_probabilities(service, image_embedding, family)  # a family not located
        )
        entry = explain_family(probabilities, claims.stated, claims.negated, conflict_confidence)
        entry["probe"] = COUNTERFACTUAL if name in counterfactual else TEMPLATES
        explanation[name] = entry
    return explanation


def conflicting_families(explanation: Mapping[str, dict] | None) -> list[str]:
    """The families whose stated value the image contradicts with confidence."""
    return [name for name, entry in (explanation or {}).items() if entry.get("conflict")]
