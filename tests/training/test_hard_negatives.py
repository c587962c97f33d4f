"""Hard negatives are never accidental matches; the export's split never leaks a product."""

import random

import pytest

from tests.verdict_factories import product_with_images, rule
from training.demo.catalog import COLOURS, PATTERNS, describe, random_spec
from training.demo.vocabulary import PATTERN_WORDS
from training.export import TrainingMix, export_verdicts, heldout_products
from training.hard_negatives import (
    ATTRIBUTE_GROUPS,
    attribute_swaps,
    same_category_swap,
    stated_groups,
    swap_attribute,
    visibly_different,
)


def _group_of(attribute: str, word: str) -> int:
    (index,) = [i for i, group in enumerate(ATTRIBUTE_GROUPS[attribute]) if word in group]
    return index


def test_a_swapped_attribute_is_always_another_value_of_it():
    rng = random.Random(0)
    checked = {"colour": 0, "pattern": 0, "category": 0}
    for _ in range(300):
        spec = random_spec(rng)
        text = describe(spec, rng)
        for swap in attribute_swaps(text, rng, per_text=4):
            after = stated_groups(swap.text, swap.attribute)
            assert len(after) == 1, (text, swap)
            if swap.attribute == "colour":
                assert after[0] != _group_of("colour", spec.colour), (text, swap.text)
            elif swap.attribute == "pattern":
                true_words = PATTERN_WORDS[spec.pattern]
                assert after[0] != _group_of("pattern", true_words[0]), (text, swap.text)
            elif swap.attribute == "category":
                assert spec.category not in ATTRIBUTE_GROUPS["category"][after[0]]
            checked[swap.attribute] = checked.get(swap.attribute, 0) + 1
    assert all(count > 20 for count in checked.values()), checked
    assert set(COLOURS) and set(PATTERNS)  # the generator's values are the ones checked


def test_synonyms_are_the_same_value_so_never_a_swap_target():
    rng = random.Random(1)
    for _ in range(50):
        swap = swap_attribute("Navy polka-dot tee", "colour", rng)
        assert swap is not None and _group_of("colour", swap.swapped_to) != _group_of(
            "colour", "blue"
        )
        pattern = swap_attribute("Navy polka-dot tee", "pattern", rng)
        assert pattern is not None and "dotted" not in pattern.text
        assert "polka-dot" not in pattern.text


def test_a_text_with_two_values_of_an_attribute_is_not_swapped_on_it():
    assert swap_attribute("Red and white striped mug", "colour", random.Random(0)) is None
    assert swap_attribute("A mug", "colour", random.Random(0)) is None


def test_same_category_swaps_need_a_visible_difference():
    rng = random.Random(0)
    assert not visibly_different("Red cotton t-shirt", "Red jersey tee, crew neck")
    assert same_category_swap("Red cotton t-shirt", ["Red jersey tee"], rng) is None
    swap = same_category_swap("Red cotton t-shirt", ["Red jersey tee", "Blue tee"], rng)
    assert swap is not None and swap.text == "Blue tee"


@pytest.mark.django_db
def test_the_split_never_puts_a_product_on_two_sides(tmp_path, settings, reviewer):
    colours = ["red", "blue", "green", "black", "white", "yellow"]
    categories = ["t-shirt", "mug", "lamp"]
    image_product = {}
    for index in range(18):
        text = f"{colours[index % 6]} {categories[index % 3]} number {index}".capitalize()
        product, images = product_with_images(
            text, n_images=2, category=categories[index % 3], seed=index
        )
        for position, image in enumerate(images):
            rule(image, "match" if position == 0 else "mismatch", reviewer=reviewer)
            image_product[image.image.name] = product.pk

    summary = export_verdicts(
        tmp_path, val_fraction=0.3, heldout_fraction=0.3, seed=2, mix=TrainingMix()
    )

    media = settings.MEDIA_ROOT.resolve()
    products = {}
    for side in ("train", "val", "test"):
        rows = (tmp_path / f"{side}.csv").read_text().splitlines()[1:]
        names = {row.split(",")[0] for row in rows}
        products[side] = {image_product[name] for name in names}
        assert all((media / name).is_file() for name in names)
    assert products["train"] and products["val"] and products["test"]
    assert not products["train"] & products["val"]
    assert not products["train"] & products["test"]
    assert not products["val"] & products["test"]
    assert products["test"] == heldout_products(image_product.values(), 0.3)
    assert summary.train.hard_negatives > 0
