"""End to end on the tiny model: seed a small catalog, analysis runs for every image."""

import pytest
from django.core.management import call_command

from catalog.models import Product, ProductImage
from clipanalysis.models import AnalysisResult
from training.models import SyntheticTruth

pytestmark = pytest.mark.django_db(transaction=True)


def test_seeding_creates_products_with_truth_and_a_result_per_image(capsys):
    call_command("seed_demo_catalog", products=12, mismatch_rate=0.5, seed=3)

    assert Product.objects.count() == 12
    assert ProductImage.objects.count() == 12
    truths = SyntheticTruth.objects.all()
    assert truths.count() == 12
    assert 0 < truths.filter(is_mismatch=True).count() < 12
    results = AnalysisResult.objects.current()
    assert results.count() == 12
    assert set(results.values_list("status", flat=True)) == {AnalysisResult.Status.DONE}
    assert "Created 12 products" in capsys.readouterr().out

    call_command("demo_detection_report")
    assert "Scored 12 synthetic products (0 not finished)" in capsys.readouterr().out


def test_seeding_again_skips_existing_skus(capsys):
    call_command("seed_demo_catalog", products=3, seed=1)
    call_command("seed_demo_catalog", products=3, seed=1)
    assert Product.objects.count() == 3
    assert "skipped 3 existing SKUs" in capsys.readouterr().out
