"""``manage.py improve_model``: export → fine-tune → compare → activate only if better, stored."""

import pytest
from django.core.management import CommandError, call_command
from django_q.models import Schedule

from clipanalysis.models import ModelVersion
from clipanalysis.registry import active_model, register_model
from tests.verdict_factories import product_with_images, rule
from training.finetune_config import DEMO_RECIPE, PRETRAINED_RECIPE
from training.improvement import (
    enqueue_if_enough_verdicts,
    install_schedules,
    new_verdicts_since_last_run,
    recipe_for,
    remove_schedules,
)
from training.models import ImprovementRun
from training.tasks import improve_model_task

pytestmark = pytest.mark.django_db

COLOURS = ["red", "blue", "green", "yellow", "black", "white"]
CATEGORIES = ["t-shirt", "mug", "lamp", "shoe"]


@pytest.fixture
def verdicts(settings, reviewer, scoring_model):
    """24 confirmed products with attribute words (the mix makes their hard negatives)."""
    settings.TRAINING_HELDOUT_FRACTION = 0.3
    settings.ACTIVATION_GUARD_MIN_PAIRS = 4
    settings.CALIBRATION_MIN_VERDICTS = 4
    for index in range(24):
        colour, category = COLOURS[index % 6], CATEGORIES[index % 4]
        _, (image,) = product_with_images(
            f"{colour} cotton {category} {index}", category=category, seed=index
        )
        rule(image, "match", reviewer=reviewer)


def test_a_run_trains_compares_and_decides_and_its_report_is_stored(
    verdicts, tmp_path, one_torch_thread, capsys
):
    base = active_model()

    call_command(
        "improve_model",
        *("--epochs", "1", "--batch-size", "8", "--lr", "1e-4", "--device", "cpu"),
        *("--output", str(tmp_path / "run")),
    )

    run = ImprovementRun.objects.get()
    assert run.status in {ImprovementRun.Status.ACTIVATED, ImprovementRun.Status.REFUSED}
    assert run.base_model == base and run.verdicts == 24 and run.finished_at
    assert run.candidate.source == ModelVersion.Source.TRAINED
    assert run.report["export"]["train"]["hard_negatives"] > 0
    assert run.report["export"]["test"]["products"] > 0  # held out, never trained on
    assert run.report["fine_tune"]["steps"] >= 1
    assert run.report["comparison"]["overall"]["n"] > 0
    # Activated only if the guard accepted it; otherwise the base model still serves.
    expected = run.candidate if run.report["comparison"]["accepted"] else base
    assert active_model() == expected
    assert (run.status == ImprovementRun.Status.ACTIVATED) == run.report["comparison"]["accepted"]
    out = capsys.readouterr().out
    assert f"Run {run.pk}: " in out and "Candidate:" in out


def test_with_no_verdicts_the_run_is_skipped_and_says_why(scoring_model, tmp_path):
    with pytest.raises(CommandError, match="Not enough verdicts"):
        call_command("improve_model", "--output", str(tmp_path / "run"))
    run = ImprovementRun.objects.get()
    assert run.status == ImprovementRun.Status.SKIPPED and run.candidate is None


def test_schedules_only_enqueue_and_wait_for_enough_new_verdicts(verdicts, settings):
    install_schedules()
    funcs = set(Schedule.objects.values_list("func", flat=True))
    assert {
        "training.improvement.enqueue_improvement",
        "training.improvement.enqueue_if_enough_verdicts",
    } <= funcs

    settings.IMPROVE_MODEL_AFTER_VERDICTS = 25
    assert new_verdicts_since_last_run() == 24
    assert enqueue_if_enough_verdicts() is None
    assert remove_schedules() == 2


def test_the_task_exits_quietly_when_a_run_is_under_way(scoring_model):
    ImprovementRun.objects.create(base_model=scoring_model)
    assert improve_model_task("weekly") is None
    assert ImprovementRun.objects.count() == 1


def test_the_admin_shows_the_runs_with_their_report(client, admin_user, scoring_model):
    run = ImprovementRun.objects.create(
        base_model=scoring_model,
        status=ImprovementRun.Status.REFUSED,
        message="not better",
        report={"comparison_table": "Guard: refused.", "export": {"train": {"rows": 3}}},
    )
    client.force_login(admin_user)
    listing = client.get("/admin/training/improvementrun/")
    assert listing.status_code == 200 and b"Not better: refused by the guard" in listing.content
    page = client.get(f"/admin/training/improvementrun/{run.pk}/change/")
    assert page.status_code == 200 and b"Guard: refused." in page.content


def test_the_recipe_follows_the_lineage_and_named_settings_override_it(db):
    demo = register_model("demo-model", source="demo")
    tuned = register_model("tuned", source="trained", base_model="demo-model")
    other = register_model("someone/else", source="trained", base_model="openai/clip")

    assert recipe_for(demo) == DEMO_RECIPE == recipe_for(tuned)
    assert recipe_for(other) == PRETRAINED_RECIPE == recipe_for(None)
    assert DEMO_RECIPE.lr > PRETRAINED_RECIPE.lr  # from scratch vs pretrained on 400M pairs
    chosen = recipe_for(tuned, lr=1e-3, epochs=None, seed=5)
    assert (chosen.lr, chosen.epochs, chosen.seed) == (1e-3, DEMO_RECIPE.epochs, 5)


def test_a_bad_setting_is_a_clear_error_and_trains_nothing(scoring_model, tmp_path):
    with pytest.raises(CommandError, match="lr must be positive"):
        call_command("improve_model", "--lr", "0", "--output", str(tmp_path / "run"))
    assert not ImprovementRun.objects.exists()
