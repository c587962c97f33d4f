"""Vocabulary edits: they take effect without a restart, and ``reexplain`` (command and
admin action) re-explains the affected results from stored embeddings."""

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Product
from clipanalysis import vocabularies
from clipanalysis.clip_service import ClipService
from clipanalysis.explanation import explain
from clipanalysis.models import AnalysisResult, AttributeFamily, AttributeTerm, ReviewItem
from tests.factories import add_image, make_product, packshot


def no_image_encoder(monkeypatch):
    def refuse(self, images):
        raise AssertionError("re-explaining must not run the image encoder")

    monkeypatch.setattr(ClipService, "image_embeddings", refuse)


@pytest.fixture
def seeded(db):
    vocabularies.seed_default_vocabularies()
    return AttributeFamily.objects.get(name="colour")


@pytest.mark.django_db(transaction=True)
def test_new_term_takes_effect_and_reexplain_updates_the_result_without_the_image_encoder(
    seeded, monkeypatch
):
    image = add_image(make_product("Teal cotton t-shirt", category="t-shirt"))
    result = AnalysisResult.objects.get(image=image)
    assert "colour" not in result.explanation  # "teal" is no colour the vocabulary knows

    AttributeTerm.objects.create(family=seeded, value="teal", synonyms="petrol")
    # No restart: the scorer reads the edited vocabulary on its next call.
    assert "teal" in vocabularies.current_families()["colour"].values
    no_image_encoder(monkeypatch)
    call_command("reexplain", "--family", "colour")

    result.refresh_from_db()
    assert result.explanation["colour"]["stated"] == ["teal"]
    assert result.explanation["category"]["stated"] == ["t-shirt"]


@pytest.mark.django_db(transaction=True)
def test_reexplain_leaves_results_the_families_do_not_affect(seeded, monkeypatch, capsys):
    add_image(make_product("Plain ceramic mug", category="mug"))
    no_image_encoder(monkeypatch)
    call_command("reexplain", "--family", "colour")
    assert "Re-explained 0 result(s)" in capsys.readouterr().out
    call_command("reexplain")  # every current result
    assert "Re-explained 1 result(s), 0 changed" in capsys.readouterr().out


@pytest.mark.django_db
def test_reexplain_refuses_an_unknown_family(seeded):
    with pytest.raises(CommandError, match="Unknown attribute family 'smell'"):
        call_command("reexplain", "--family", "smell")


@pytest.mark.django_db(transaction=True)
def test_admin_edits_a_family_and_its_action_reexplains(seeded, admin_user, client, monkeypatch):
    image = add_image(make_product("Teal cotton t-shirt", category="t-shirt"))
    client.force_login(admin_user)
    changelist = client.get("/admin/clipanalysis/attributefamily/")
    assert changelist.status_code == 200
    assert b"Colour" in changelist.content
    assert client.get(f"/admin/clipanalysis/attributefamily/{seeded.pk}/change/").status_code == 200

    AttributeTerm.objects.create(family=seeded, value="teal")
    no_image_encoder(monkeypatch)
    response = client.post(
        "/admin/clipanalysis/attributefamily/",
        {"action": "reexplain_results", "_selected_action": [seeded.pk]},
        follow=True,
    )
    assert b"Re-explained 1 result(s) from stored embeddings; 1 explanation(s) changed" in (
        response.content
    )
    result = AnalysisResult.objects.get(image=image)
    assert result.explanation["colour"]["stated"] == ["teal"]


@pytest.mark.parametrize("probe", ["counterfactual", "templates"])
def test_second_explanation_makes_no_text_encoder_call(tiny_clip_dir, monkeypatch, probe):
    service = ClipService.load(tiny_clip_dir, device="cpu", dtype="float32")
    embedding = service.image_embeddings([packshot()])[0]
    families = vocabularies.default_families()
    first = explain(service, embedding, "Red striped cotton t-shirt", families, probe=probe)

    def refuse(*args, **kwargs):
        raise AssertionError("the texts' embeddings must come from the cache")

    monkeypatch.setattr(service.model, "get_text_features", refuse)
    again = explain(service, embedding, "Red striped cotton t-shirt", families, probe=probe)
    assert again == first
    assert set(first) == {"colour", "material", "pattern", "category"}


@pytest.fixture
def conflicts_count(settings):
    """Every disagreement is confident, and the overall score always passes."""
    settings.ATTRIBUTE_CONFLICT_CONFIDENCE = 0.0
    settings.CATEGORY_CONFLICT_CONFIDENCE = 0.0
    settings.CLIP_SIMILARITY_THRESHOLD = 0.0
    settings.REVIEW_UNCERTAINTY_BAND = 0.0
    return settings


def open_reasons(image) -> list[str]:
    item = ReviewItem.objects.open().filter(image=image).first()
    return item.reasons if item else []


@pytest.mark.django_db(transaction=True)
def test_attribute_conflict_opens_a_review_item_though_the_score_passes(seeded, conflicts_count):
    for family in AttributeFamily.objects.exclude(name="colour"):
        family.is_active = False  # only the colour is explained here
        family.save()
    images = {
        colour: add_image(make_product(f"{colour.title()} cotton t-shirt", category="other"))
        for colour in ("red", "blue")
    }
    for colour, image in images.items():
        result = AnalysisResult.objects.get(image=image)
        assert result.is_match is True  # the overall similarity passes
        seen = result.explanation["colour"]["seen"]
        assert ("attribute_conflict" in open_reasons(image)) == (seen != colour)
    # The same pixels cannot look both red and blue: at least one text is contradicted.
    assert any("attribute_conflict" in open_reasons(image) for image in images.values())

    seeded.opens_review = False
    seeded.save()  # as the admin saves it (the vocabulary cache notices updated_at)
    call_command("reexplain", "--family", "colour")
    assert not any("attribute_conflict" in open_reasons(image) for image in images.values())


@pytest.mark.django_db(transaction=True)
def test_category_field_contradicted_by_the_image_opens_category_conflict(seeded, conflicts_count):
    image = add_image(make_product("Cotton t-shirt", category="t-shirt"))
    seen = AnalysisResult.objects.get(image=image).zero_shot_label
    other = next(value for value in ("mug", "lamp") if value != seen)

    # The catalog's own category field changes (no re-analysis): re-explaining checks it.
    Product.objects.filter(pk=image.product_id).update(category=other)
    call_command("reexplain")
    assert "category_conflict" in open_reasons(image)

    Product.objects.filter(pk=image.product_id).update(category=seen)
    call_command("reexplain")
    assert "category_conflict" not in open_reasons(image)
