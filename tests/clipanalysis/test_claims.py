"""Claim extraction: which vocabulary terms a description states, and which it denies."""

import pytest

from clipanalysis.claims import Family, Term, extract_claims
from clipanalysis.vocabularies import default_families

COLOUR = Family(
    "colour",
    (
        Term("red", ("crimson",)),
        Term("blue"),
        Term("navy blue", ("navy", "dark blue")),
        Term("white"),
        Term("off-white", ("cream", "ivory")),
        Term("grey", ("gray",)),
    ),
)
PATTERN = Family(
    "pattern",
    (Term("striped", ("stripes", "stripy")), Term("dotted", ("polka-dot", "dots"))),
)
CATEGORY = Family(
    "category", (Term("t-shirt", ("tee",)), Term("shirt"), Term("mug", ("cup",)), Term("watch"))
)


def stated(text, family):
    return list(extract_claims(text, family).stated)


@pytest.mark.parametrize(
    ("text", "colours"),
    [
        ("Navy blue cotton shirt", ["navy blue"]),  # the longest term wins over "blue"
        ("NAVY-BLUE tee", ["navy blue"]),
        ("Dark blue mug", ["navy blue"]),  # a multi-word synonym names its term
        ("Off white mug", ["off-white"]),
        ("Off-white mug", ["off-white"]),
        ("offwhite mug", ["off-white"]),
        ("OFF\u2011WHITE mug", ["off-white"]),  # a non-breaking hyphen
        ("Blue and white mug", ["blue", "white"]),
        ("Gray mug", ["grey"]),  # a synonym names its canonical value
        ("Reddish mug", []),  # whole words only
        ("Bluebell mug", []),
        ("Blue.Red", ["blue", "red"]),
        ("red, red and RED", ["red"]),  # each value once
        ("\uff32\uff45\uff44 mug", ["red"]),  # full-width letters (NFKC)
        ("Crimson mug", ["red"]),
    ],
)
def test_colours_are_found_as_whole_words_in_any_spelling(text, colours):
    assert stated(text, COLOUR) == colours


def test_plurals_and_case_do_not_matter():
    assert stated("T-SHIRTS in a pack of three", CATEGORY) == ["t-shirt"]
    assert stated("Two tees", CATEGORY) == ["t-shirt"]
    assert stated("Set of 4 cups", CATEGORY) == ["mug"]
    assert stated("Men's watches", CATEGORY) == ["watch"]
    assert stated("Stripes all over", PATTERN) == ["striped"]
    assert stated("A shirt, not a t-shirt", CATEGORY) == ["shirt"]


def test_unicode_accents_and_other_scripts():
    colours = Family("colour", (Term("crème", ("creme",)), Term("red")))
    assert stated("Crème mug", colours) == ["crème"]
    assert stated("CREME mug", colours) == ["crème"]
    assert stated("Красная кружка, red", colours) == ["red"]
    assert stated("", colours) == []


@pytest.mark.parametrize(
    ("text", "denied"),
    [
        ("Mug, not red", ["red"]),
        ("Not a red mug", ["red"]),
        ("Red-free white mug", ["red"]),
        ("Non-red mug", ["red"]),
        ("Free of red dye", ["red"]),
        ("Without red or blue", ["red", "blue"]),
    ],
)
def test_negated_colours_are_not_claims(text, denied):
    claims = extract_claims(text, COLOUR)
    assert list(claims.negated) == denied
    assert not set(claims.stated) & set(denied)


def test_negation_reaches_only_its_own_clause():
    assert extract_claims("No stripes, red mug", COLOUR).stated == ("red",)
    assert extract_claims("No stripes, red mug", PATTERN).negated == ("striped",)
    assert extract_claims("No stripes, red mug", PATTERN).stated == ()
    assert extract_claims("Not a red mug but a blue one", COLOUR).stated == ("blue",)
    # A negator hyphenated to a word negates that word only.
    assert extract_claims("No-iron red shirt", COLOUR).stated == ("red",)
    # Far away, it negates nothing.
    assert extract_claims("Not sold in shops nationwide: red", COLOUR).stated == ("red",)
    # Stated and denied elsewhere: it is stated.
    assert extract_claims("Red mug, not red-free", COLOUR).stated == ("red",)


def test_default_vocabulary_reads_the_demo_catalogs_texts():
    families = default_families()
    text = "Classic polka-dot green stainless steel water bottle, BPA-free, 750 ml"
    assert stated(text, families["colour"]) == ["green"]
    assert stated(text, families["pattern"]) == ["dotted"]
    assert stated(text, families["material"]) == ["metal"]
    assert stated(text, families["category"]) == ["bottle"]
    assert stated("Sneaker in striped black, leather-strap", families["category"]) == ["shoe"]
