"""A batch is scored with one vocabulary, read once: no freshness query per row."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from clipanalysis import vocabularies
from clipanalysis.models import AnalysisResult, AttributeFamily, AttributeTerm
from tests.factories import add_image, image_bytes, make_product, photo_like


@pytest.fixture
def seeded(db):
    vocabularies.seed_default_vocabularies()
    return AttributeFamily.objects.get(name="colour")


def freshness_queries(sql_seen: list[str]) -> int:
    """The vocabulary's edit checks (``vocabularies._stamp``) among the queries run."""
    return sum('MAX("clipanalysis_attributefamily"."updated_at")' in sql for sql in sql_seen)


def test_inside_a_pinned_block_an_edit_waits_for_the_next_block(seeded):
    with vocabularies.pinned():
        AttributeTerm.objects.create(family=seeded, value="teal")
        assert "teal" not in vocabularies.current_families()["colour"].values
    assert "teal" in vocabularies.current_families()["colour"].values  # no restart


@pytest.mark.parametrize("products", [2, 6])
def test_a_batch_checks_the_vocabulary_for_edits_once_whatever_its_size(
    seeded, scoring_model, products
):
    for number in range(products):  # saved, their results pending
        product = make_product(f"Red cotton t-shirt {number}")
        add_image(product, image_bytes(photo_like(40 + number, (320, 320))))
    sql_seen: list[str] = []

    def record(execute, sql, params, many, context):
        sql_seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        call_command(
            "score_catalog", "--stale", "--no-progress", "--batch-size", "32", stdout=StringIO()
        )

    current = AnalysisResult.objects.filter(is_current=True)
    assert current.filter(status=AnalysisResult.Status.DONE).count() == products
    assert all(result.explanation["colour"]["stated"] == ["red"] for result in current)
    assert freshness_queries(sql_seen) == 1  # on entering the batch, not once per row
