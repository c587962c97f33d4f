"""The attribute vocabularies as the scorer reads them: seeded defaults, admin edits, caching.

ORM-aware. ``current_families`` turns the ``AttributeFamily`` / ``AttributeTerm``
rows into ``claims.Family`` values for ``scoring.judge``; it is cached per
process and re-read when any row changed (one aggregate query per call tells),
so an admin edit takes effect on the next analysis without a restart. When the
tables are empty (a fresh test database) the built-in defaults below serve.

``category_check`` compares a product's own ``category`` with the zero-shot
category of its image; ``conflict_reasons`` turns confident disagreements into
the review reasons ``attribute_conflict`` and ``category_conflict``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.apps import apps as global_apps
from django.conf import settings
from django.db.models import Count, Max

from clipanalysis.claims import Family, Term, extract_claims
from clipanalysis.explanation import conflicting_families
from clipanalysis.models import AttributeFamily, AttributeTerm

CATEGORY = "category"
# Categories that say "none of ours": never a vocabulary term, never checked.
NOT_A_CATEGORY = frozenset({"", "other", "misc", "miscellaneous", "none", "n/a", "unknown"})

# name: (label, prompt templates, [(value, synonyms), ...]); categories add
# CLIP_ZERO_SHOT_LABELS and the catalog's own values when seeded.
DEFAULT_FAMILIES: dict[str, tuple[str, tuple[str, ...], list[tuple[str, tuple[str, ...]]]]] = {
    "colour": (
        "Colour",
        ("a photo of a {value} product", "a {value} object"),
        [
            ("red", ("crimson", "scarlet")),
            ("orange", ()),
            ("yellow", ("mustard",)),
            ("green", ("olive",)),
            ("blue", ("cobalt",)),
            ("navy blue", ("navy", "dark blue")),
            ("purple", ("violet", "lilac")),
            ("pink", ("rose",)),
            ("brown", ("chocolate", "tan")),
            ("black", ("jet black",)),
            ("white", ("snow white",)),
            ("off-white", ("cream", "ivory", "ecru")),
            ("grey", ("gray", "charcoal")),
            ("beige", ("sand", "khaki")),
        ],
    ),
    "material": (
        "Material",
        ("a photo of a product made of {value}", "a {value} object"),
        [
            ("cotton", ("organic cotton",)),
            ("wool", ("merino", "cashmere")),
            ("linen", ()),
            ("denim", ("jeans",)),
            ("leather", ("suede",)),
            ("canvas", ()),
            ("nylon", ("polyester",)),
            ("ceramic", ("porcelain", "stoneware")),
            ("glass", ()),
            ("metal", ("steel", "stainless steel", "aluminium", "aluminum")),
            ("wood", ("wooden", "oak", "bamboo")),
            ("plastic", ("acrylic",)),
            ("silicone", ("rubber",)),
        ],
    ),
    "pattern": (
        "Pattern",
        ("a photo of a {value} product", "a product with a {value} pattern"),
        [
            ("plain", ("solid", "solid-colour", "solid-color")),
            ("striped", ("stripes", "stripe", "stripy", "stripe-pattern", "pinstripe")),
            ("dotted", ("dots", "polka-dot", "polka dots", "spotted")),
            ("checked", ("checkered", "chequered", "plaid", "gingham", "tartan")),
            ("floral", ("flowers", "flowery")),
        ],
    ),
    CATEGORY: (
        "Category",
        ("a photo of a {value}", "a product photo of a {value}"),
        [
            ("t-shirt", ("tee", "tshirt")),
            ("mug", ("cup",)),
            ("shoe", ("sneaker", "trainer")),
            ("lamp", ()),
            ("backpack", ("rucksack", "daypack")),
            ("watch", ("wristwatch",)),
            ("chair", ()),
            ("bottle", ()),
            ("dress", ()),
            ("phone", ("smartphone", "mobile phone")),
        ],
    ),
}

_cache_lock = threading.Lock()
_cached: tuple[tuple, dict[str, Family], frozenset[str]] | None = None
# The vocabulary a batch is scored with (``pinned``); None: check for edits at each read.
_pinned: ContextVar[tuple[dict[str, Family], frozenset[str]] | None] = ContextVar(
    "pinned_vocabulary", default=None
)


# --- seeding ---------------------------------------------------------------------
def default_category_values() -> list[str]:
    labels = [label.strip() for label in settings.CLIP_ZERO_SHOT_LABELS]
    known = [value for value, _ in DEFAULT_FAMILIES[CATEGORY][2]]
    return list(dict.fromkeys(label for label in [*known, *labels] if label))


def seed_default_vocabularies(apps=global_apps) -> int:
    """Create the default families and terms that are missing; returns how many terms.

    Idempotent, and never overwrites an edit: existing families and terms are left
    as they are. Also used by the data migration (with its historical ``apps``).
    """
    families = apps.get_model("clipanalysis", "AttributeFamily")
    terms = apps.get_model("clipanalysis", "AttributeTerm")
    created = 0
    for name, (label, templates, defaults) in DEFAULT_FAMILIES.items():
        family, _ = families.objects.get_or_create(
            name=name, defaults={"label": label, "prompt_templates": list(templates)}
        )
        wanted = list(defaults)
        if name == CATEGORY:
            synonyms = dict(defaults)
            wanted = [(value, synonyms.get(value, ())) for value in default_category_values()]
        for value, synonyms in wanted:
            _, made = terms.objects.get_or_create(
                family=family, value=value, defaults={"synonyms": ", ".join(synonyms)}
            )
            created += made
    return created + add_catalog_categories(apps)


def add_catalog_categories(apps=global_apps) -> int:
    """Add the products' own ``category`` values the category family lacks; returns how many.

    A value already named by a term or synonym ("sneaker" for "shoe") is not added twice.
    """
    families = apps.get_model("clipanalysis", "AttributeFamily")
    terms = apps.get_model("clipanalysis", "AttributeTerm")
    products = apps.get_model("catalog", "Product")
    family = families.objects.filter(name=CATEGORY).first()
    if family is None:
        return 0
    existing = Family(
        CATEGORY,
        tuple(
            Term(term.value, tuple(_names(term.synonyms)))
            for term in terms.objects.filter(family=family)
        ),
    )
    values = products.objects.order_by().values_list("category", flat=True).distinct()
    added = 0
    for value in sorted({(value or "").strip().lower() for value in values}):
        if value in NOT_A_CATEGORY or extract_claims(value, existing).stated:
            continue
        terms.objects.get_or_create(family=family, value=value[:100])
        existing = Family(CATEGORY, (*existing.terms, Term(value)))
        added += 1
    return added


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.replace("\n", ",").split(",") if name.strip()]


# --- reading ---------------------------------------------------------------------
def default_families() -> dict[str, Family]:
    """The built-in vocabulary, as ``scoring.judge`` reads it."""
    families = {}
    for name, (_label, templates, defaults) in DEFAULT_FAMILIES.items():
        synonyms = dict(defaults)
        values = default_category_values() if name == CATEGORY else [v for v, _ in defaults]
        families[name] = Family(
            name, tuple(Term(value, tuple(synonyms.get(value, ()))) for value in values), templates
        )
    return families


def _stamp() -> tuple:
    """Changes whenever a family or term is added, edited or deleted."""
    family = AttributeFamily.objects.aggregate(n=Count("id"), latest=Max("updated_at"))
    term = AttributeTerm.objects.aggregate(n=Count("id"), latest=Max("updated_at"))
    return (family["n"], family["latest"], term["n"], term["latest"])


def _load() -> tuple[dict[str, Family], frozenset[str]]:
    rows = AttributeFamily.objects.prefetch_related("terms")
    if not rows.exists():
        return default_families(), frozenset(DEFAULT_FAMILIES)
    families, opening = {}, set()
    for row in rows.filter(is_active=True):
        terms = tuple(
            Term(term.value, tuple(term.synonym_list))
            for term in sorted(row.terms.all(), key=lambda term: term.pk)
            if term.is_active
        )
        if len(terms) < 2:
            continue  # nothing to compare a stated value with
        families[row.name] = Family(row.name, terms, tuple(row.prompt_templates))
        if row.opens_review:
            opening.add(row.name)
    return families, frozenset(opening)


@contextmanager
def pinned() -> Iterator[None]:
    """Score a batch with one vocabulary: checked for edits once, on entry.

    Without it every read asks the database whether a family or term changed (two
    aggregate queries), and a batch reads it several times per row (explanation,
    review reasons, category check): a fifth of a re-score's queries. An edit made
    meanwhile applies from the next batch on.
    """
    token = _pinned.set(_current())
    try:
        yield
    finally:
        _pinned.reset(token)


def _current() -> tuple[dict[str, Family], frozenset[str]]:
    global _cached
    pinned_now = _pinned.get()
    if pinned_now is not None:
        return pinned_now
    stamp = _stamp()
    with _cache_lock:
        if _cached is not None and _cached[0] == stamp:
            return _cached[1], _cached[2]
    families, opening = _load()
    with _cache_lock:
        _cached = (stamp, families, opening)
    return families, opening


def current_families() -> dict[str, Family]:
    """The active families (each with at least two active terms), by name."""
    return _current()[0]


def families_opening_review() -> frozenset[str]:
    """The families whose confident conflict opens a review item."""
    return _current()[1]


def category_family() -> Family | None:
    return current_families().get(CATEGORY)


def zero_shot_categories() -> tuple[str, ...]:
    """The labels the image's category is chosen from: the category vocabulary's values."""
    family = category_family()
    return family.values if family is not None else tuple(settings.CLIP_ZERO_SHOT_LABELS)


# --- conflicts -------------------------------------------------------------------------
def catalog_category(category: str) -> str | None:
    """The category term a product's ``category`` field names, if the vocabulary knows it."""
    family = category_family()
    if family is None or (category or "").strip().lower() in NOT_A_CATEGORY:
        return None
    stated = extract_claims(category, family).stated
    return stated[0] if stated else None


def category_check(result) -> dict | None:
    """The product's own category against the image's zero-shot category.

    ``{"catalog", "seen", "confidence", "catalog_probability", "conflict"}``, or None
    when the product has no category the vocabulary knows or nothing was zero-shot.
    """
    ranking = result.zero_shot_results or {}
    catalog = catalog_category(result.image.product.category)
    if not ranking or catalog is None or catalog not in ranking:
        return None
    seen, confidence = max(ranking.items(), key=lambda pair: pair[1])
    limit = settings.CATEGORY_CONFLICT_CONFIDENCE
    return {
        "catalog": catalog,
        "seen": seen,
        "confidence": round(confidence, 4),
        "catalog_probability": round(ranking[catalog], 4),
        "conflict": seen != catalog and confidence >= limit,
    }


def attribute_conflicts(result) -> list[str]:
    """The families (of those that open reviews) whose stated value the image contradicts."""
    opening = families_opening_review()
    return [name for name in conflicting_families(result.explanation) if name in opening]


def conflict_reasons(result) -> list[str]:
    """``attribute_conflict`` and/or ``category_conflict`` for a finished result."""
    reasons = []
    if attribute_conflicts(result):
        reasons.append("attribute_conflict")
    check = category_check(result)
    if check is not None and check["conflict"]:
        reasons.append("category_conflict")
    return reasons


def affected_by(result_explanation: dict | None, description: str, names: Iterable[str]) -> bool:
    """Whether a result's explanation would change with the families ``names``."""
    names = set(names)
    if names & set(result_explanation or {}):
        return True
    families = current_families()
    return any(
        extract_claims(description, families[name]).stated for name in names if name in families
    )
