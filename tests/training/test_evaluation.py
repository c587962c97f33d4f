"""Evaluation metrics on hand-made scores with known answers, the plot, and row scoring."""

import math

import pytest
from PIL import Image

from training.evaluation import evaluate_scores, format_evaluation, plot_evaluation

# Matches score 0.35 and 0.8, mismatches 0.1 and 0.4: 3 of the 4 (match, mismatch) pairs are
# ordered right, so ROC-AUC is exactly 0.75.
LABELS = [False, False, True, True]
SCORES = [0.1, 0.4, 0.35, 0.8]


def test_roc_auc_and_metrics_at_the_threshold():
    report = evaluate_scores(LABELS, SCORES, threshold=0.5)

    assert report.roc_auc == 0.75
    assert (report.n, report.n_match, report.n_mismatch) == (4, 2, 2)
    # Only 0.8 is accepted: 1 true match, 0 false, 1 missed.
    assert report.precision == 1.0
    assert report.recall == 0.5
    assert report.f1 == pytest.approx(2 / 3)
    assert report.accuracy == 0.75


def test_best_f1_threshold_lies_midway_below_the_best_cut():
    report = evaluate_scores(LABELS, SCORES, threshold=0.5)

    # Cutting at 0.35 accepts 0.35, 0.4 and 0.8: precision 2/3, recall 1, F1 0.8 (the best).
    assert report.best_f1 == pytest.approx(0.8)
    assert report.best_f1_threshold == pytest.approx((0.35 + 0.1) / 2)
    at_best = evaluate_scores(LABELS, SCORES, threshold=report.best_f1_threshold)
    assert at_best.f1 == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("target", "expected"),
    [(1.0, (0.8 + 0.4) / 2), (0.6, (0.35 + 0.1) / 2), (0.5, 0.1)],
)
def test_threshold_for_target_precision_accepts_as_many_matches_as_possible(target, expected):
    report = evaluate_scores(LABELS, SCORES, threshold=0.5, target_precision=target)

    assert report.threshold_for_target_precision == pytest.approx(expected)
    reached = evaluate_scores(LABELS, SCORES, threshold=report.threshold_for_target_precision)
    assert reached.precision >= target


def test_unreachable_target_precision_is_none():
    report = evaluate_scores([True, False], [0.2, 0.9], threshold=0.5, target_precision=0.99)

    assert report.threshold_for_target_precision is None
    assert "not reachable" in format_evaluation(report)


def test_one_class_gives_no_auc_rather_than_a_crash():
    report = evaluate_scores([True, True], [0.3, 0.6], threshold=0.5)

    assert math.isnan(report.roc_auc)
    assert report.as_dict()["roc_auc"] is None
    assert "n/a" in format_evaluation(report)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        evaluate_scores([True, False], [0.3], threshold=0.5)


def test_format_evaluation_names_every_figure():
    text = format_evaluation(evaluate_scores(LABELS, SCORES, threshold=0.5, target_precision=1))

    assert "ROC-AUC: 0.7500" in text
    assert "precision 1.000, recall 0.500, F1 0.667" in text
    assert "Best-F1 threshold: 0.2250 (F1 0.800)" in text
    assert "Threshold for precision >= 1.000: 0.6000" in text


def test_plot_is_a_png(tmp_path):
    report = evaluate_scores(LABELS, SCORES, threshold=0.5)

    path = plot_evaluation(report, LABELS, SCORES, tmp_path / "plots" / "eval.png")

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        assert image.width > 500 and image.height > 200
