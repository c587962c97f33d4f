"""Why an analysis needs a reviewer, in a few short phrases.

``why(result)`` turns what an ``AnalysisResult`` knows (its score and calibrated
P(match), the stated-vs-seen explanation of ``clipanalysis.explanation``, the
product's category against the zero-shot one, the duplicate it was matched to,
its failed quality checks) into phrases a reviewer reads at a glance::

    score 0.212 < threshold 0.250, P(match) 0.08
    colour: says red → looks blue (0.91)
    category: says mug → looks like t-shirt (0.88)
    duplicate of DEMO-0-00148 (2 bits)
    blur 42 < 100

The review page, the queue's "Why" column and the API's ``why`` field all show
this list. ``phrases`` does the wording from plain values; ``why`` reads them off
a result (the product's category against the stored zero-shot ranking, no query).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from django.conf import settings

# Families whose seen value reads "looks like a …" rather than "looks …".
NOUN_FAMILIES = frozenset({"category"})
_AT_LEAST = re.compile(r"^\s*>=?\s*([-\d.]+)\s*(%?)")
_AT_MOST = re.compile(r"^\s*<=?\s*([-\d.]+)\s*(%?)")
_RANGE = re.compile(r"^\s*([-\d.]+)\s*-\s*([-\d.]+)")


def number(value: float) -> str:
    """Short: 42 for 41.7, 3.5 for 3.5, 0.12 for 0.1234."""
    if abs(value) >= 10:
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"


def score_phrase(
    score: float | None, threshold: float | None, match_probability: float | None
) -> str | None:
    """``score 0.212 < threshold 0.250``, with the calibrated P(match) when fitted."""
    if score is None or threshold is None:
        return None
    sign = "<" if score < threshold else "≥"
    text = f"score {score:.3f} {sign} threshold {threshold:.3f}"
    if match_probability is not None:
        text += f", P(match) {match_probability:.2f}"
    return text


def family_phrase(name: str, entry: Mapping) -> str | None:
    """``colour: says red → looks blue (0.91)`` for a family whose stated value the image
    contradicts with confidence (``conflict``); None otherwise."""
    if not entry.get("conflict"):
        return None
    seen = entry.get("best_alternative") or entry.get("seen")
    probability = entry.get("best_alternative_probability", entry.get("confidence", 0.0))
    stated = "/".join(entry.get("stated") or []) or "—"
    looks = "looks like" if name in NOUN_FAMILIES else "looks"
    return f"{name}: says {stated} → {looks} {seen} ({probability:.2f})"


def category_phrase(
    catalog_category: str, zero_shot: Mapping[str, float] | None, confidence: float
) -> str | None:
    """``category: listed as mug → looks like t-shirt (0.88)``: the product's own category
    (when it is one of the zero-shot labels) against the image's likeliest label, when that
    is another one at least ``confidence`` likely. Read from the stored ranking alone."""
    if not zero_shot:
        return None
    labels = {label.casefold(): label for label in zero_shot}
    wanted = (catalog_category or "").strip().casefold()
    listed = labels.get(wanted) or labels.get(wanted.removesuffix("s"))
    if listed is None:
        return None
    seen, probability = max(zero_shot.items(), key=lambda pair: pair[1])
    if seen == listed or probability < confidence:
        return None
    return f"category: listed as {listed} → looks like {seen} ({probability:.2f})"


def check_phrase(check: Mapping) -> str:
    """``blur 42 < 100``: a failed quality check's value against the limit it missed."""
    name = str(check.get("name", "")).replace("_", " ")
    value = check.get("value")
    limit = str(check.get("limit") or "")
    if value is None:
        return name
    value = float(value)
    if match := _RANGE.match(limit):
        low, high = float(match[1]), float(match[2])
        if value < low:
            return f"{name} {number(value)} < {number(low)}"
        if value > high:
            return f"{name} {number(value)} > {number(high)}"
    for pattern, sign in ((_AT_LEAST, "<"), (_AT_MOST, ">")):
        if match := pattern.match(limit):
            bound, percent = float(match[1]), match[2]
            shown = value * 100 if percent else value
            return f"{name} {number(shown)}{percent} {sign} {number(bound)}{percent}"
    return f"{name} {number(value)} (needs {limit})" if limit else f"{name} {number(value)}"


def duplicate_phrase(sku: str | None, distance: int | None) -> str:
    other = sku or "another product's image"
    return f"duplicate of {other} ({distance if distance is not None else '?'} bits)"


def phrases(
    *,
    score: float | None = None,
    threshold: float | None = None,
    match_probability: float | None = None,
    explanation: Mapping[str, Mapping] | None = None,
    catalog_category: str = "",
    zero_shot: Mapping[str, float] | None = None,
    conflict_confidence: float = 0.5,
    failed_checks: Iterable[Mapping] = (),
    duplicate_sku: str | None = None,
    duplicate_distance: int | None = None,
) -> list[str]:
    """The phrases, most telling first: score, contradicted attributes, duplicate, quality."""
    found = [score_phrase(score, threshold, match_probability)]
    explanation = explanation or {}
    found.extend(family_phrase(name, entry) for name, entry in explanation.items())
    if not (explanation.get("category") or {}).get("conflict"):
        found.append(category_phrase(catalog_category, zero_shot, conflict_confidence))
    failed_checks = list(failed_checks)
    if any(check.get("name") == "duplicate" for check in failed_checks):
        found.append(duplicate_phrase(duplicate_sku, duplicate_distance))
    found.extend(check_phrase(check) for check in failed_checks if check.get("name") != "duplicate")
    return [phrase for phrase in found if phrase]


def why(result, product=None) -> list[str]:
    """The phrases for a finished ``AnalysisResult`` (empty while it is not done).

    ``product`` is the image's product when the caller has it at hand (saves a query);
    the duplicate's product is read through ``result.duplicate_of`` (select it related).
    No other query: a list of results costs nothing per row.
    """
    if result is None or result.status != "done":
        return []
    failures = set(result.quality_failures or [])
    checks = [
        check for check in (result.quality or {}).get("checks", []) if check.get("name") in failures
    ]
    duplicate = result.duplicate_of if result.duplicate_of_id else None
    return phrases(
        score=result.similarity_score,
        threshold=result.threshold,
        match_probability=result.match_probability,
        explanation=result.explanation,
        catalog_category=(product or result.image.product).category,
        zero_shot=result.zero_shot_results,
        conflict_confidence=settings.CATEGORY_CONFLICT_CONFIDENCE,
        failed_checks=checks,
        duplicate_sku=duplicate.product.sku if duplicate is not None else None,
        duplicate_distance=result.duplicate_distance,
    )
