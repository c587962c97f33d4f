"""Which vocabulary terms a product description states. Pure core: strings in, dataclasses out.

A *family* (colour, material, pattern, category) is a list of *terms*, each a
canonical value (the word CLIP is prompted with) and its synonyms ("navy blue":
"navy", "dark blue"). ``extract_claims`` finds the terms a text names:

* whole words only ("reddish" is not "red"), case- and accent-insensitive, any
  unicode letters, after NFKC (full-width letters, ligatures, odd dashes);
* multi-word and hyphenated terms match written with a space, a hyphen or
  joined ("off-white", "off white", "offwhite"; "T-shirts" is "t-shirt");
* plurals: every word is compared in its singular form ("stripes", "watches");
* the longest term wins where two overlap ("navy blue" over "blue");
* negation: "not red", "no stripes", "without stripes", "free of red",
  "non-red" and "red-free" state nothing about red; a negator reaches at most
  three words ahead and stops at punctuation or "but" ("no stripes, red" still
  says red; "no-iron" negates only "iron").

Each stated term also comes with its ``Span`` in the text as written (offsets into
the original string, whether it was written in the plural), so the explanation can
build counterfactual descriptions: the same text with the stated word replaced.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

DEFAULT_TEMPLATES = ("a photo of a {value}", "a product photo of a {value}")
# Words that negate the terms after them (within NEGATION_REACH words).
NEGATORS = frozenset({"not", "no", "non", "without", "never", "nor", "neither"})
NEGATION_REACH = 3
# Words that end a negator's reach, like punctuation does.
SCOPE_BREAKERS = frozenset({"but", "yet", "only"})
# Dashes and hyphens of every kind read as "-".
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d"), "-")
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Term:
    """One value of a family: the name prompts use, and the other names texts use."""

    value: str
    synonyms: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.value, *self.synonyms)


@dataclass(frozen=True)
class Family:
    """An attribute family: its terms and the prompt templates (``{value}``) CLIP reads."""

    name: str
    terms: tuple[Term, ...]
    templates: tuple[str, ...] = DEFAULT_TEMPLATES

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(term.value for term in self.terms)

    @classmethod
    def of(cls, name: str, values: Sequence[str] | Family) -> Family:
        """A family from plain values (no synonyms, default templates), or itself."""
        if isinstance(values, Family):
            return values
        return cls(name, tuple(Term(value) for value in values))


@dataclass(frozen=True)
class Span:
    """Where a text states ``value``: ``text[start:end]``, written in the plural or not."""

    value: str
    start: int
    end: int
    plural: bool = False


@dataclass(frozen=True)
class Claims:
    """What a text says about one family: the values stated, and those it denies.

    ``spans`` locates every stated mention in the original text (empty in the rare
    text whose normalisation cannot be mapped back character by character); claims
    compare equal on what they state, not on where.
    """

    stated: tuple[str, ...] = ()
    negated: tuple[str, ...] = ()
    spans: tuple[Span, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class _Word:
    text: str  # normalised and singular
    raw: str  # normalised, as written
    start: int
    end: int


@dataclass
class _Matcher:
    """Term names as word sequences, longest first, for one family."""

    # first word → [(word sequence, value, the name's last word as written)]
    by_first_word: dict[str, list[tuple[tuple[str, ...], str, str]]] = field(default_factory=dict)
    joined: dict[str, tuple[str, str]] = field(default_factory=dict)  # "offwhite" → off-white


def normalise(text: str) -> str:
    """NFKC, case-folded, accents dropped, every dash a hyphen."""
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def singular(word: str) -> str:
    """A cheap English singular, applied the same way to texts and terms."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def plural(phrase: str) -> str:
    """The English plural of a phrase's last word, the inverse of ``singular``."""
    head, space, last = phrase.rpartition(" ")
    head += space
    if len(last) > 1 and last[-1] == "y" and last[-2] not in "aeiou":
        return head + last[:-1] + "ies"
    if last.endswith(("ch", "sh", "s", "x", "z")):
        return head + last + "es"
    return head + last + "s"


def _origins(text: str, normalised: str) -> list[int] | None:
    """For each character of ``normalised``, the index in ``text`` it comes from.

    None when normalising character by character does not give ``normalised`` (a
    composition across characters): then no offsets into ``text`` are claimed.
    """
    origins: list[int] = []
    for index, char in enumerate(text):
        origins.extend([index] * len(normalise(char)))
    if len(origins) != len(normalised):
        return None
    pieces = "".join(normalise(char) for char in text)
    return origins if pieces == normalised else None


def words(text: str) -> list[_Word]:
    normalised = normalise(text)
    return [
        _Word(singular(found.group()), found.group(), found.start(), found.end())
        for found in _WORD.finditer(normalised)
    ]


@lru_cache(maxsize=256)
def _matcher(family: Family) -> _Matcher:
    matcher = _Matcher()
    for term in family.terms:
        for name in term.names:
            sequence = tuple(word.text for word in words(name))
            if not sequence:
                continue
            raw_words = [word.raw for word in words(name)]
            matcher.by_first_word.setdefault(sequence[0], []).append(
                (sequence, term.value, raw_words[-1])
            )
            if len(sequence) > 1:
                joined = "".join(raw_words)
                matcher.joined.setdefault(singular(joined), (term.value, joined))
    for candidates in matcher.by_first_word.values():
        candidates.sort(key=lambda candidate: -len(candidate[0]))
    return matcher


def _joined_by_space_or_hyphen(text: str, found: list[_Word], start: int, length: int) -> bool:
    gaps = (text[found[i].end : found[i + 1].start] for i in range(start, start + length - 1))
    return all(gap.strip() in ("", "-") and len(gap) <= 3 for gap in gaps)


def _is_negated(text: str, found: list[_Word], start: int, end: int) -> bool:
    """Whether the words ``found[start:end]`` are denied: "not …", "non-…", "…-free"."""
    after = found[end] if end < len(found) else None
    if after is not None and after.text == "free" and text[found[end - 1].end : after.start] == "-":
        return True  # "red-free"
    for back in range(1, NEGATION_REACH + 1):
        index = start - back
        if index < 0:
            return False
        word = found[index]
        gap = text[word.end : found[index + 1].start].strip()
        if gap not in ("", "-") or word.text in SCOPE_BREAKERS:
            return False  # punctuation or "but" in between: out of the negator's reach
        if word.text in NEGATORS:
            # Hyphenated ("non-red", "no-iron red shirt"), it negates the next word only.
            return back == 1 or gap != "-"
        if word.text == "of" and index > 0 and found[index - 1].text == "free":
            return True  # "free of red"
    return False


def extract_claims(text: str, family: Family) -> Claims:
    """The family's values ``text`` states and denies, each once, in order of appearance."""
    normalised = normalise(text)
    found = words(text)
    matcher = _matcher(family)
    origins = _origins(text, normalised)
    stated: dict[str, None] = {}
    negated: dict[str, None] = {}
    spans: list[Span] = []
    index = 0
    while index < len(found):
        value, length, name_last = _match_at(normalised, found, index, matcher)
        if value is None:
            index += 1
            continue
        if _is_negated(normalised, found, index, index + length):
            negated.setdefault(value)
        else:
            stated.setdefault(value)
            last = found[index + length - 1]
            if origins is not None:
                start, end = origins[found[index].start], origins[last.end - 1] + 1
                spans.append(Span(value, start, end, plural=len(last.raw) > len(name_last)))
        index += length
    return Claims(
        stated=tuple(stated),
        negated=tuple(value for value in negated if value not in stated),
        spans=tuple(spans),
    )


def _match_at(
    text: str, found: list[_Word], index: int, matcher: _Matcher
) -> tuple[str | None, int, str]:
    """The value the words at ``index`` name, how many words, and the name's last word."""
    for sequence, value, name_last in matcher.by_first_word.get(found[index].text, ()):
        length = len(sequence)
        window = tuple(word.text for word in found[index : index + length])
        if window == sequence and _joined_by_space_or_hyphen(text, found, index, length):
            return value, length, name_last
    joined = matcher.joined.get(found[index].text)
    return (joined[0], 1, joined[1]) if joined is not None else (None, 0, "")


def stated_values(text: str, family: Family) -> list[str]:
    return list(extract_claims(text, family).stated)


def claims_by_family(text: str, families: Iterable[Family]) -> dict[str, Claims]:
    return {family.name: extract_claims(text, family) for family in families}


def as_families(families: Mapping[str, Sequence[str] | Family]) -> list[Family]:
    return [Family.of(name, values) for name, values in families.items()]
