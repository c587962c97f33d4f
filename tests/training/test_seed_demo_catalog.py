"""End to end on the tiny model: seed a small catalog, analysis runs for every image."""

import pytest
from django.core.management import call_command

from catalog.models import Product, ProductImage
from clipanalysis.models import AnalysisResult
from tests.verdict_factories import rule
from training.models import SyntheticTruth
from training.seeding import detection_report

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
    assert "Scored 12 synthetic products (0 not finished; 0 judged" in capsys.readouterr().out


def test_seeding_again_skips_existing_skus(capsys):
    call_command("seed_demo_catalog", products=3, seed=1)
    call_command("seed_demo_catalog", products=3, seed=1)
    assert Product.objects.count() == 3
    assert "skipped 3 existing SKUs" in capsys.readouterr().out


def test_products_whose_description_a_reviewer_corrected_are_judged_by_the_corrected_text(
    reviewer,
):
    call_command("seed_demo_catalog", products=8, mismatch_rate=0.5, seed=5)
    mismatched = ProductImage.objects.filter(product__synthetic_truth__is_mismatch=True)
    assert mismatched.count() >= 2
    before = detection_report()
    assert before.roc_auc is not None and before.corrected == 0

    for image in mismatched:
        rule(image, "mismatch", reviewer=reviewer, corrected=f"what image {image.pk} shows")

    after = detection_report()
    assert after.scored == 8 and after.pending == 0
    assert after.corrected == mismatched.count()
    # Every deliberate mismatch now carries its true text: nothing is left to detect.
    assert after.roc_auc is None and after.recall == 0.0
