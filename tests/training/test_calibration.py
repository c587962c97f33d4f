"""Calibration: a logistic fit of reviewer verdicts on similarity, stored and applied."""

import importlib

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.utils.module_loading import import_string
from django_q.models import Schedule

from clipanalysis.models import AnalysisResult
from clipanalysis.pipeline import match_probability, rescore_catalog
from clipanalysis.registry import activate, active_model, register_model
from tests.verdict_factories import product_with_images, rule
from training.calibration import fit_calibration

pytestmark = pytest.mark.django_db(transaction=True)

DESCRIPTIONS = [
    "Red cotton t-shirt",
    "Blue ceramic mug",
    "Black leather shoe",
    "Green desk lamp",
    "Yellow canvas backpack",
    "Silver wrist watch",
    "Brown wooden chair",
    "White steel bottle",
    "Orange wool scarf",
    "Purple silk dress",
    "Pink plastic phone case",
    "Grey linen cushion",
]


# Scores as a model would give them, lowest first, and what reviewers said of each:
# mostly mismatches at the bottom and matches at the top, with some overlap.
SCORES = [0.12, 0.15, 0.17, 0.19, 0.21, 0.23, 0.25, 0.27, 0.29, 0.31, 0.33, 0.36]
DECISIONS = ["mismatch"] * 3 + ["match", "mismatch", "mismatch"]
DECISIONS += ["match", "mismatch"] + ["match"] * 4


@pytest.fixture
def reviewed_catalog(reviewer):
    """Twelve analysed images with reviewer verdicts.

    The tiny test model scores every pair 0 (random weights, cosine clipped at
    0), so the fixture gives each result a score of its own first.
    """
    images = [
        product_with_images(text, seed=index)[1][0] for index, text in enumerate(DESCRIPTIONS)
    ]
    for image, score, decision in zip(images, SCORES, DECISIONS, strict=True):
        AnalysisResult.objects.current().filter(image=image).update(similarity_score=score)
        rule(image, decision, reviewer=reviewer)
    return [AnalysisResult.objects.current().get(image=image) for image in images]


def test_fit_stores_a_rising_logistic_curve_and_writes_probabilities(reviewed_catalog):
    model_version = active_model()
    assert all(result.match_probability is None for result in reviewed_catalog)

    calibration = fit_calibration(model_version, min_verdicts=10)

    assert calibration is not None
    assert calibration["n_verdicts"] == 12
    assert (calibration["n_match"], calibration["n_mismatch"]) == (6, 6)
    assert calibration["intercept"] < 0
    assert calibration["coef"] > 0
    model_version.refresh_from_db()
    assert model_version.calibration == calibration
    results = AnalysisResult.objects.filter(model_version=model_version).order_by(
        "similarity_score"
    )
    probabilities = [result.match_probability for result in results]
    assert all(p is not None and 0 < p < 1 for p in probabilities)
    assert probabilities == sorted(probabilities)
    for result in results:
        assert result.match_probability == pytest.approx(
            match_probability(model_version, result.similarity_score)
        )
    # Reviewers' labels and the curve agree: P(match) near 0.5 where they are mixed.
    assert probabilities[0] < 0.2 and probabilities[-1] > 0.8
    assert 0.2 < calibration["score_at_p50"] < 0.3


def test_too_few_verdicts_store_nothing(reviewed_catalog):
    model_version = active_model()
    assert fit_calibration(model_version, min_verdicts=13) is None
    model_version.refresh_from_db()
    assert model_version.calibration is None
    assert not AnalysisResult.objects.filter(match_probability__isnull=False).exists()


def test_verdicts_of_one_kind_only_are_not_fitted(reviewer):
    for index, text in enumerate(DESCRIPTIONS[:4]):
        rule(product_with_images(text, seed=index)[1][0], "match", reviewer=reviewer)
    assert fit_calibration(active_model(), min_verdicts=2) is None


def test_bad_image_verdicts_do_not_count(reviewed_catalog, reviewer):
    image = product_with_images("Blue denim jacket", seed=40)[1][0]
    rule(image, "bad_image", reviewer=reviewer)
    assert fit_calibration(active_model(), min_verdicts=10)["n_verdicts"] == 12


def test_new_results_get_a_probability_from_the_pipeline(reviewed_catalog):
    fit_calibration(active_model(), min_verdicts=10)
    image = product_with_images("Red striped cotton t-shirt", seed=50)[1][0]
    result = AnalysisResult.objects.current().get(image=image)
    assert result.match_probability is not None


def test_a_new_version_is_calibrated_from_the_verdicts_on_the_old_one(
    reviewed_catalog, other_clip_dir
):
    new_version = register_model(other_clip_dir)
    rescore_catalog(activate(new_version))

    calibration = fit_calibration(new_version, min_verdicts=10)

    assert calibration is not None and calibration["n_verdicts"] == 12
    current = AnalysisResult.objects.current()
    assert set(current.values_list("model_version", flat=True)) == {new_version.pk}
    assert not current.filter(match_probability__isnull=True).exists()


def test_fit_calibration_command(reviewed_catalog, capsys):
    call_command("fit_calibration", "--min-verdicts", "10")
    assert "Calibrated" in capsys.readouterr().out
    assert active_model().calibration["n_verdicts"] == 12
    with pytest.raises(CommandError, match="Not enough verdicts"):
        call_command("fit_calibration", "--min-verdicts", "100")


def test_daily_schedule_refits_every_reviewed_version(reviewed_catalog, settings):
    migration = importlib.import_module("training.migrations.0003_fit_calibrations_schedule")
    migration.add_schedule(apps, None)
    schedule = Schedule.objects.get(name="fit_calibrations")
    assert schedule.schedule_type == Schedule.DAILY

    settings.CALIBRATION_MIN_VERDICTS = 10
    fitted = import_string(schedule.func)()

    model_version = active_model()
    assert list(fitted) == [model_version.version]
    assert model_version.calibration == fitted[model_version.version]
    assert model_version.calibration["n_verdicts"] == 12


def test_hourly_schedule_refits_the_active_model_once_enough_new_verdicts_arrived(
    reviewed_catalog, settings, reviewer
):
    migration = importlib.import_module("training.migrations.0006_refit_calibration_schedule")
    migration.add_schedule(apps, None)
    schedule = Schedule.objects.get(name="refit_calibration_after_new_verdicts")
    assert schedule.schedule_type == Schedule.HOURLY
    refit = import_string(schedule.func)

    settings.CALIBRATION_MIN_VERDICTS = 13
    assert refit() is None  # 12 verdicts: not enough yet
    settings.CALIBRATION_MIN_VERDICTS = 12
    first = refit()
    assert first["n_verdicts"] == 12 and active_model().calibration == first
    assert refit() is None  # nothing new since that fit
