"""Say why (issue 13): an analysis in short phrases on the review page, the queue and the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import ProductImage
from clipanalysis.review_findings import check_phrase, family_phrase, phrases, score_phrase, why
from tests.clipanalysis.test_review_queue import scored_item
from tests.conftest import token_client
from tests.factories import add_image, make_product

CHANGELIST = reverse("admin:clipanalysis_reviewitem_changelist")


def conflict(stated, seen, probability, *, conflict=True) -> dict:
    return {
        "stated": stated,
        "seen": seen,
        "confidence": probability,
        "agrees": False,
        "best_alternative": seen,
        "best_alternative_probability": probability,
        "conflict": conflict,
    }


# --- the words --------------------------------------------------------------------
def test_stated_against_seen_in_words():
    assert family_phrase("colour", conflict(["red"], "blue", 0.912)) == (
        "colour: says red → looks blue (0.91)"
    )
    assert family_phrase("category", conflict(["mug"], "t-shirt", 0.88)) == (
        "category: says mug → looks like t-shirt (0.88)"
    )
    assert family_phrase("pattern", conflict(["striped", "checked"], "plain", 0.7)) == (
        "pattern: says striped/checked → looks plain (0.70)"
    )
    # A family the image agrees with, or contradicts without confidence, says nothing.
    assert family_phrase("colour", conflict(["red"], "blue", 0.3, conflict=False)) is None


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        ({"name": "blur", "value": 42.3, "limit": ">= 100.0"}, "blur 42 < 100"),
        ({"name": "resolution", "value": 320, "limit": ">= 500 px"}, "resolution 320 < 500"),
        ({"name": "brightness", "value": 250.2, "limit": "40.0-235.0"}, "brightness 250 > 235"),
        ({"name": "brightness", "value": 12.0, "limit": "40.0-235.0"}, "brightness 12 < 40"),
        ({"name": "aspect_ratio", "value": 3.5, "limit": "<= 3.0"}, "aspect ratio 3.5 > 3"),
        (
            {"name": "background", "value": 0.42, "limit": ">= 90% of border pure white"},
            "background 42% < 90%",
        ),
        ({"name": "odd", "value": 2.0, "limit": "exactly 3"}, "odd 2 (needs exactly 3)"),
    ],
)
def test_a_failed_check_reads_value_against_limit(check, expected):
    assert check_phrase(check) == expected


def test_score_with_the_calibrated_probability_only_when_fitted():
    assert score_phrase(0.2123, 0.25, None) == "score 0.212 < threshold 0.250"
    assert score_phrase(0.30, 0.25, 0.873) == "score 0.300 ≥ threshold 0.250, P(match) 0.87"
    assert score_phrase(None, 0.25, None) is None


def test_phrases_most_telling_first():
    assert phrases(
        score=0.1,
        threshold=0.25,
        match_probability=0.04,
        explanation={"colour": conflict(["red"], "blue", 0.91)},
        catalog_category="mugs",
        zero_shot={"mug": 0.1, "t-shirt": 0.85},
        failed_checks=[
            {"name": "duplicate", "value": 2},
            {"name": "blur", "value": 42, "limit": ">= 100"},
        ],
        duplicate_sku="DEMO-0-00148",
        duplicate_distance=2,
    ) == [
        "score 0.100 < threshold 0.250, P(match) 0.04",
        "colour: says red → looks blue (0.91)",
        "category: listed as mug → looks like t-shirt (0.85)",
        "duplicate of DEMO-0-00148 (2 bits)",
        "blur 42 < 100",
    ]
    # The text's own category claim already says it: the listing's category is not repeated.
    both = phrases(
        explanation={"category": conflict(["mug"], "t-shirt", 0.88)},
        catalog_category="mug",
        zero_shot={"mug": 0.1, "t-shirt": 0.85},
    )
    assert both == ["category: says mug → looks like t-shirt (0.88)"]
    # The catalog category agrees, is not a label, or the image's label is not confident.
    assert phrases(catalog_category="t-shirt", zero_shot={"mug": 0.1, "t-shirt": 0.85}) == []
    assert phrases(catalog_category="sofa", zero_shot={"mug": 0.1, "t-shirt": 0.85}) == []
    assert phrases(catalog_category="mug", zero_shot={"mug": 0.45, "t-shirt": 0.49}) == []


# --- on a stored analysis, and where reviewers read it ------------------------------
@pytest.fixture
def duplicate_item(db):
    """A mismatch with a colour conflict, a blur failure and a duplicate of another product."""
    other = add_image(make_product("Plain mug", sku="DEMO-0-00148", category="mug"))
    item = scored_item(0.1, sku="SKU-WHY", category="t-shirt", quality_failures=("blur",))
    result = item.result
    result.match_probability = 0.04
    result.explanation = {"colour": conflict(["red"], "blue", 0.91)}
    result.quality["checks"] = [
        {"name": "blur", "value": 42.0, "passed": False, "limit": ">= 100.0", "blocking": True},
        {"name": "duplicate", "value": 2.0, "passed": False, "limit": "> 8 bits", "blocking": True},
    ]
    result.quality_failures = ["blur", "duplicate"]
    result.duplicate_of = other
    result.duplicate_distance = 2
    result.save()
    return item


EXPECTED = [
    "score 0.100 < threshold 0.250, P(match) 0.04",
    "colour: says red → looks blue (0.91)",
    "duplicate of DEMO-0-00148 (2 bits)",
    "blur 42 < 100",
]


@pytest.mark.django_db
def test_why_reads_a_stored_analysis(duplicate_item):
    assert why(duplicate_item.result) == EXPECTED
    duplicate_item.result.status = "pending"
    assert why(duplicate_item.result) == []


@pytest.mark.django_db
def test_review_page_and_queue_say_why(client, reviewer, duplicate_item):
    client.force_login(reviewer)
    page = client.get(reverse("admin:clipanalysis_reviewitem_review", args=[duplicate_item.pk]))
    html = page.content.decode()
    assert 'class="review-why"' in html
    for phrase in EXPECTED:
        assert f"<li>{phrase.replace('<', '&lt;')}</li>" in html
    queue = client.get(CHANGELIST).content.decode()
    assert "column-why" in queue
    for phrase in EXPECTED:
        assert f'<div class="why-phrase">{phrase.replace("<", "&lt;")}</div>' in queue


@pytest.mark.django_db
def test_api_items_and_analyses_carry_why(reviewer, duplicate_item, django_assert_max_num_queries):
    client = token_client(reviewer)
    [item] = client.get("/api/v1/review-items/").json()["results"]
    assert item["why"] == EXPECTED
    assert item["match_probability"] == 0.04
    analysis = client.get(f"/api/v1/analyses/{duplicate_item.result_id}/").json()
    assert analysis["why"] == EXPECTED
    for index in range(4):  # more rows, each a duplicate: no query per row
        more = scored_item(0.1, sku=f"SKU-WHY-{index}")
        more.result.duplicate_of = ProductImage.objects.get(product__sku="DEMO-0-00148")
        more.result.save()
    with django_assert_max_num_queries(4):
        assert len(client.get("/api/v1/review-items/").json()["results"]) == 5


def test_schema_documents_why(client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for name in ("ReviewItem", "AnalysisResult"):
        field = schema["components"]["schemas"][name]["properties"]["why"]
        assert field["type"] == "array" and field["items"]["type"] == "string"
        assert field["readOnly"] and "P(match)" in field["description"]


@pytest.mark.django_db
def test_review_page_shows_the_duplicated_image_beside_with_its_product(
    client, reviewer, duplicate_item
):
    client.force_login(reviewer)
    page = reverse("admin:clipanalysis_reviewitem_review", args=[duplicate_item.pk])
    other = duplicate_item.result.duplicate_of
    html = client.get(page).content.decode()
    figure = html[html.index('class="review-image review-duplicate"') :]
    figure = figure[: figure.index("</figure>")]
    assert f'src="{other.image.url}"' in figure
    assert "Duplicate of DEMO-0-00148 (2 bits)" in figure
    assert reverse("admin:catalog_product_change", args=[other.product_id]) in figure
    assert "Plain mug" in figure
    assert "Its review" not in figure  # the other image is not in the queue
    # When it is, the page links to its review as well.
    other_item = scored_item(0.1, sku="SKU-OTHER")
    other_item.image = other
    other_item.save(update_fields=["image"])
    html = client.get(page).content.decode()
    assert reverse("admin:clipanalysis_reviewitem_review", args=[other_item.pk]) in html
    # An item that duplicates nothing shows one image.
    plain = scored_item(0.1, sku="SKU-PLAIN")
    html = client.get(reverse("admin:clipanalysis_reviewitem_review", args=[plain.pk]))
    assert "review-duplicate" not in html.content.decode()
