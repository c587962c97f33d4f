"""The screened probe: templates first, counterfactuals for flagged rows and for doubts."""

import math

import pytest

from clipanalysis.claims import Family, Term
from clipanalysis.clip_service import ClipService
from clipanalysis.explanation import explain, prompt_embeddings
from clipanalysis.scoring import ScoringOptions, judge

COLOUR = Family("colour", (Term("red"), Term("blue"), Term("green"), Term("white")))
CATEGORY = Family("category", (Term("mug"), Term("t-shirt"), Term("watch")))
FAMILIES = {"colour": COLOUR, "category": CATEGORY}


@pytest.fixture
def service(tiny_clip_dir):
    """A private tiny CLIP (own text cache) with real CLIP's logit scale, 100."""
    loaded = ClipService.load(tiny_clip_dir, device="cpu", dtype="float32")
    loaded.model.logit_scale.data.fill_(math.log(100.0))
    return loaded


@pytest.fixture
def encoded(service):
    """The texts the service's text encoder is asked to embed, call by call."""
    calls: list[int] = []
    encode = service.model.get_text_features

    def counted(*args, **kwargs):
        calls.append(len(kwargs["input_ids"]))
        return encode(*args, **kwargs)

    service.model.get_text_features = counted
    return calls


def seen_by_templates(service, family: Family, value: str):
    """An image embedding the family's templates read as ``value`` (its own prompt
    embedding: a unit vector is nearest to itself)."""
    return prompt_embeddings(service, family)[family.values.index(value)]


def test_a_passing_row_the_templates_agree_with_encodes_no_counterfactual(service, encoded):
    image = seen_by_templates(service, COLOUR, "red")
    encoded.clear()  # the prompts are embedded once per model, not per row

    explanation = explain(service, image, "Red enamel plate", FAMILIES, flagged=False)

    assert explanation["colour"]["seen"] == "red" and explanation["colour"]["agrees"]
    assert explanation["colour"]["probe"] == "templates"
    assert not explanation["colour"]["conflict"]
    assert encoded == []  # neither the description nor a counterfactual went through


def test_a_family_the_templates_doubt_is_probed_with_counterfactuals(service, encoded):
    image = seen_by_templates(service, COLOUR, "blue")
    prompt_embeddings(service, CATEGORY)
    encoded.clear()

    screened = explain(service, image, "Red mug", FAMILIES, flagged=False)
    screening_calls = list(encoded)
    counterfactual = explain(service, image, "Red mug", FAMILIES, probe="counterfactual")

    assert screened["colour"] == counterfactual["colour"]  # the same numbers, the same reading
    assert screened["colour"]["probe"] == "counterfactual"
    category_doubted = screened["category"]["seen"] != "mug"
    assert screened["category"]["probe"] == ("counterfactual" if category_doubted else "templates")
    # The description, its 3 colour counterfactuals and, only if doubted, 2 category ones.
    assert screening_calls == [1 + 3 + (2 if category_doubted else 0)]


@pytest.mark.parametrize("value", ["red", "blue"])
def test_a_flagged_row_gets_the_counterfactual_explanation(service, value):
    image = seen_by_templates(service, COLOUR, value)

    screened = explain(service, image, "Red cotton t-shirt", FAMILIES, flagged=True)

    assert screened == explain(
        service, image, "Red cotton t-shirt", FAMILIES, probe="counterfactual"
    )
    assert {entry["probe"] for entry in screened.values()} == {"counterfactual"}


def test_the_scorer_screens_passing_rows_only(service):
    image = seen_by_templates(service, COLOUR, "red")
    similarity = float(service.text_embeddings(["Red mug"])[0] @ image)
    options = {"explain_families": FAMILIES, "attribute_probe": "screened"}
    passing = ScoringOptions(threshold=similarity - 0.01, **options)
    flagged = ScoringOptions(threshold=similarity + 0.01, **options)

    [passed] = judge(service, image[None], ["Red mug"], passing)
    [failed] = judge(service, image[None], ["Red mug"], flagged)

    assert passed.is_match and not failed.is_match
    assert passed.explanation["colour"]["probe"] == "templates"
    assert failed.explanation["colour"]["probe"] == "counterfactual"
