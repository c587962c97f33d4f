"""``manage.py evaluate_model``: metrics of a model on a labelled CSV, a plot, synthetic mode."""

import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from clipanalysis.batch_scoring import score_rows
from clipanalysis.clip_service import ClipService
from clipanalysis.csv_format import read_training_csv
from clipanalysis.model_metadata import write_model_metadata
from training.evaluation import evaluate_scores, format_evaluation

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_with_threshold(tiny_clip_dir, tmp_path):
    """A copy of the tiny model whose catalog_clip.json says threshold 0.05."""
    copy = tmp_path / "model"
    shutil.copytree(tiny_clip_dir, copy)
    write_model_metadata(copy, threshold=0.05)
    return copy


def test_prints_the_metrics_at_the_models_own_threshold_and_writes_the_plot(
    verdict_files, model_with_threshold, tmp_path, clean_clip_services
):
    out = StringIO()

    call_command(
        "evaluate_model",
        model=str(model_with_threshold),
        csv=verdict_files.val_csv,
        target_precision=0.6,
        plot=tmp_path / "eval.png",
        stdout=out,
    )

    rows = read_training_csv(verdict_files.val_csv, verdict_files.root)
    service = ClipService.load(model_with_threshold, device="cpu", dtype="float32")
    expected = evaluate_scores(
        [row.is_match for row in rows], score_rows(service, rows), 0.05, target_precision=0.6
    )
    assert format_evaluation(expected) in out.getvalue()
    assert "At threshold 0.0500" in out.getvalue()
    assert (tmp_path / "eval.png").read_bytes()[:4] == b"\x89PNG"


def test_threshold_option_overrides_the_models(verdict_files, model_with_threshold):
    out = StringIO()

    call_command(
        "evaluate_model",
        model=str(model_with_threshold),
        csv=verdict_files.val_csv,
        threshold=0.3,
        stdout=out,
    )

    assert "At threshold 0.3000" in out.getvalue()


def test_defaults_to_the_active_model(verdict_files, tiny_clip_dir, clean_clip_services):
    out = StringIO()

    call_command("evaluate_model", csv=verdict_files.val_csv, stdout=out)

    assert f"Model: {tiny_clip_dir}" in out.getvalue()
    assert "ROC-AUC:" in out.getvalue()


def test_broken_csv_lists_its_rows(tmp_path, tiny_clip_dir):
    path = tmp_path / "eval.csv"
    path.write_text("image_path,text,label\nmissing.png,red,match\nmissing.png,,yes\n")

    with pytest.raises(CommandError) as caught:
        call_command("evaluate_model", model=str(tiny_clip_dir), csv=path)

    assert "row 2:" in str(caught.value) and "row 3:" in str(caught.value)


def test_needs_a_csv_or_synthetic(tiny_clip_dir):
    with pytest.raises(CommandError, match="--csv"):
        call_command("evaluate_model", model=str(tiny_clip_dir))


def test_synthetic_mode_reports_auc_per_mismatch_type(tiny_clip_dir):
    out = StringIO()

    call_command(
        "evaluate_model", model=str(tiny_clip_dir), synthetic=True, seed=3, n=24, stdout=out
    )

    text = out.getvalue()
    assert "Synthetic evaluation: 24 pairs, seed 3" in text
    assert "overall" in text


# --- --compare ACTIVE CANDIDATE -----------------------------------------------------------------
def test_compare_puts_both_models_side_by_side_on_the_heldout_verdicts_and_plots_them(
    heldout_verdicts, inverted_clip_dir, tmp_path
):
    out = StringIO()

    call_command(
        "evaluate_model",
        "--compare",
        "active",
        str(inverted_clip_dir),
        "--plot",
        str(tmp_path / "compare.png"),
        stdout=out,
    )

    text = out.getvalue()
    assert "Pairs: 12 held-out verdict pairs" in text
    # The verdicts follow the tiny model's ranking; the inverted copy ranks them backwards.
    overall = next(line for line in text.splitlines() if line.startswith("overall"))
    assert "1.000" in overall and "0.000" in overall and "-1.000" in overall
    assert text.count("At its threshold") == 2 and "precision" in text
    assert "Guard: refused." in text
    assert (tmp_path / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_on_synthetic_pairs_slices_by_kind_of_mismatch(
    scoring_model, inverted_clip_dir, tiny_clip_dir
):
    out = StringIO()

    call_command(
        "evaluate_model",
        *("--compare", scoring_model.version, str(inverted_clip_dir), "--synthetic", "--n", "24"),
        stdout=out,
    )

    text = out.getvalue()
    assert "Pairs: 24 synthetic pairs (seed 0)" in text
    assert "mismatch kind=" in text


def test_compare_refuses_an_unknown_model(scoring_model):
    with pytest.raises(CommandError, match="No model version 'nope'"):
        call_command("evaluate_model", "--compare", "active", "nope")
