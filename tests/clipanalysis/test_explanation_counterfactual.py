"""The counterfactual probe: the description with its stated word replaced, softmaxed."""

import math

import pytest

from clipanalysis.claims import Family, Term, extract_claims
from clipanalysis.clip_service import ClipService
from clipanalysis.explanation import counterfactuals, explain, explain_family
from clipanalysis.pipeline import scoring_options
from tests.factories import packshot

COLOUR = Family(
    "colour",
    (
        Term("red", ("crimson",)),
        Term("blue"),
        Term("navy blue", ("navy", "dark blue")),
        Term("off-white", ("cream",)),
    ),
)
CATEGORY = Family(
    "category",
    (Term("t-shirt", ("tee",)), Term("mug", ("cup",)), Term("watch"), Term("mobile phone")),
)
FAMILIES = {"colour": COLOUR, "category": CATEGORY}


def texts_for(description: str, family: Family) -> dict[str, str]:
    """Alternative → counterfactual text, for a description stating one value."""
    claims = extract_claims(description, family)
    return {
        alternative: text for _, alternative, text in counterfactuals(description, family, claims)
    }


@pytest.fixture
def service(tiny_clip_dir):
    """A private tiny CLIP (own text cache) with real CLIP's logit scale, 100."""
    loaded = ClipService.load(tiny_clip_dir, device="cpu", dtype="float32")
    loaded.model.logit_scale.data.fill_(math.log(100.0))
    return loaded


def test_counterfactuals_replace_the_stated_word_in_place():
    assert texts_for("Red cotton T-shirt, round neck", COLOUR) == {
        "blue": "Blue cotton T-shirt, round neck",
        "navy blue": "Navy blue cotton T-shirt, round neck",
        "off-white": "Off-white cotton T-shirt, round neck",
    }
    # A synonym, a multi-word and a hyphenated or joined term are replaced as a whole.
    assert texts_for("A crimson mug", COLOUR)["blue"] == "A blue mug"
    assert texts_for("Mug in dark blue", COLOUR)["red"] == "Mug in red"
    assert texts_for("Mug in navy-blue", COLOUR)["off-white"] == "Mug in off-white"
    assert texts_for("Off white mug", COLOUR)["red"] == "Red mug"
    assert texts_for("offwhite mug", COLOUR)["navy blue"] == "navy blue mug"
    assert texts_for("Blue mobile phone case", CATEGORY)["mug"] == "Blue mug case"


def test_counterfactuals_keep_the_plural_and_the_case():
    assert texts_for("Red cotton T-shirts", CATEGORY)["mug"] == "Red cotton Mugs"
    assert texts_for("Set of 4 cups", CATEGORY)["watch"] == "Set of 4 watches"
    assert texts_for("Men's watches, steel", CATEGORY)["mobile phone"] == (
        "Men's mobile phones, steel"
    )
    assert texts_for("TWO TEES", CATEGORY)["watch"] == "TWO WATCHES"


def test_every_mention_of_the_stated_value_is_replaced_and_denials_kept():
    assert texts_for("Red mug, red handle, not blue", COLOUR)["navy blue"] == (
        "Navy blue mug, navy blue handle, not blue"
    )
    # Two stated values: each is replaced in turn, by the values the text does not state.
    claims = extract_claims("Red and blue mug", COLOUR)
    variants = counterfactuals("Red and blue mug", COLOUR, claims)
    assert ("red", "off-white", "Off-white and blue mug") in variants
    assert ("blue", "navy blue", "Red and navy blue mug") in variants
    assert len(variants) == 2 * 2


def test_the_image_of_the_description_itself_is_no_conflict(service):
    description = "Red ceramic mug"
    image = service.text_embeddings([description])[0]  # the image CLIP would read as the text

    explanation = explain(service, image, description, FAMILIES)

    assert explanation["colour"]["seen"] == "red" and explanation["colour"]["agrees"]
    assert explanation["category"]["seen"] == "mug" and explanation["category"]["agrees"]
    assert not any(entry["conflict"] for entry in explanation.values())
    assert explanation["colour"]["stated_probability"] > 0.5


@pytest.mark.parametrize(
    ("description", "shown", "family", "value"),
    [
        ("Red ceramic mug", "Blue ceramic mug", "colour", "blue"),
        ("Red cotton T-shirts", "Red cotton mugs", "category", "mug"),
        ("Crimson leather watch", "Navy blue leather watch", "colour", "navy blue"),
    ],
)
def test_an_image_of_the_swapped_text_names_the_swapped_value(
    service, description, shown, family, value
):
    image = service.text_embeddings([shown])[0]

    entry = explain(service, image, description, FAMILIES)[family]

    assert entry["seen"] == entry["best_alternative"] == value
    assert entry["conflict"]
    assert entry["best_alternative_probability"] > entry["stated_probability"]
    assert set(entry) == {
        "stated",
        "seen",
        "confidence",
        "agrees",
        "stated_probability",
        "stated_probabilities",
        "best_alternative",
        "best_alternative_probability",
        "negated",
        "probe",
        "conflict",
    }
    assert entry["probe"] == "counterfactual"


def test_a_second_explanation_of_the_same_description_calls_no_text_encoder(service):
    calls = []
    encode = service.model.get_text_features

    def counted(*args, **kwargs):
        calls.append(len(kwargs["input_ids"]))
        return encode(*args, **kwargs)

    service.model.get_text_features = counted
    image = service.image_embeddings([packshot()])[0]

    first = explain(service, image, "Red cotton T-shirts", FAMILIES)
    encoded = sum(calls)
    second = explain(service, image, "Red cotton T-shirts", FAMILIES)

    # The description and its 3 colour and 3 category counterfactuals, in one batch.
    assert encoded == 1 + 3 + 3 and len(calls) == 1
    assert sum(calls) == encoded  # the second explanation encoded nothing
    assert second == first


def test_the_template_probe_stays_selectable(service):
    image = service.image_embeddings([packshot()])[0]
    templates = explain(service, image, "Red ceramic mug", FAMILIES, probe="templates")
    assert set(templates) == {"colour", "category"}
    assert templates["colour"]["stated"] == ["red"]
    with pytest.raises(ValueError, match="probe"):
        explain(service, image, "Red ceramic mug", FAMILIES, probe="guess")


@pytest.mark.django_db
def test_the_scorer_uses_the_configured_probe(settings, scoring_model):
    assert scoring_options(scoring_model).attribute_probe == "screened"
    settings.ATTRIBUTE_PROBE = "templates"
    assert scoring_options(scoring_model).attribute_probe == "templates"


def test_a_conflict_is_a_stated_value_the_image_makes_unlikely():
    # A swapped colour's mass spreads over look-alikes; the stated one drops to nothing.
    spread = {"red": 0.03, "blue": 0.5, "navy blue": 0.47}
    assert explain_family(spread, ["red"], conflict_confidence=0.95)["conflict"]
    assert not explain_family(spread, ["red"], conflict_confidence=0.98)["conflict"]
    # A family the model cannot see: an even spread over many values is no conflict.
    even = {f"value {index}": 1 / 25 for index in range(25)}
    even["value 3"] += 0.001
    entry = explain_family(even, ["value 0"], conflict_confidence=0.95)
    assert not entry["agrees"] and not entry["conflict"]
    # At confidence 0 every disagreement is one.
    assert explain_family(even, ["value 0"], conflict_confidence=0.0)["conflict"]


def test_two_stated_values_share_the_probability(service):
    image = service.text_embeddings(["Off-white and blue mug"])[0]
    entry = explain(service, image, "Red and blue mug", {"colour": COLOUR})["colour"]
    assert entry["stated"] == ["red", "blue"]
    assert set(entry["stated_probabilities"]) == {"red", "blue"}
    assert 0.0 <= entry["stated_probability"] <= 1.0
    assert entry["stated_probability"] == pytest.approx(
        sum(entry["stated_probabilities"].values()), abs=1e-3
    )
