"""Attribute-level explanations name what the text states and what CLIP sees."""

import pytest

from clipanalysis.clip_service import ClipService
from clipanalysis.explanation import COLOURS, explain, mentioned
from clipanalysis.models import AnalysisResult
from tests.factories import add_image, make_product, packshot


def test_mentioned_matches_whole_words_including_hyphenated_labels():
    assert mentioned("Red cotton T-shirt with round neck", ["t-shirt", "shirt", "mug"]) == [
        "t-shirt"
    ]
    assert mentioned("Reddish mug", COLOURS) == []
    assert mentioned("Blue and white striped mug", COLOURS) == ["blue", "white"]


def test_explain_reports_only_mentioned_families(tiny_clip_dir):
    service = ClipService.load(tiny_clip_dir, device="cpu", dtype="float32")
    embedding = service.image_embeddings([packshot()])[0]
    families = {"colour": COLOURS, "category": ["t-shirt", "mug", "lamp"]}

    result = explain(service, embedding, "Red ceramic mug", families)

    assert set(result) == {"colour", "category"}
    assert result["colour"]["stated"] == ["red"]
    assert result["colour"]["seen"] in COLOURS
    assert result["colour"]["agrees"] == (result["colour"]["seen"] == "red")
    assert 0 < result["category"]["confidence"] <= 1
    assert explain(service, embedding, "Ceramic thing", families) == {}


@pytest.mark.django_db(transaction=True)
def test_results_carry_the_explanation():
    image = add_image(make_product("Green leather backpack", category="backpack"))
    result = AnalysisResult.objects.get(image=image)
    assert result.explanation["colour"]["stated"] == ["green"]
    assert result.explanation["category"]["stated"] == ["backpack"]
