"""How well P(match) means what it says: logistic fit, expected calibration error, plot.

Why apart from ``training.calibration`` (the ORM side): the demo-model build and
fine-tuning fit the calibration a model ships with from their own held-out
scores, without a database, and the benchmark measures its error.

Pure core: numpy, scikit-learn, matplotlib's Agg canvas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

RELIABILITY_BINS = 10


def fit_logistic(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """``(coef, intercept)`` of P(match) = 1 / (1 + exp(-(coef * score + intercept))).

    Fitted on standardised scores with sklearn's default L2 penalty, so perfectly
    separated labels give a steep but finite curve, then mapped back to the raw
    similarity scale the pipeline uses.
    """
    scores = np.asarray(scores, dtype=np.float64)
    mean, std = float(scores.mean()), float(scores.std()) or 1.0
    model = LogisticRegression(C=1.0).fit(((scores - mean) / std).reshape(-1, 1), labels)
    coef = float(model.coef_[0][0]) / std
    intercept = float(model.intercept_[0]) - coef * mean
    return coef, intercept


def probabilities(calibration: dict[str, Any], scores: np.ndarray) -> np.ndarray:
    logits = calibration["coef"] * np.asarray(scores, dtype=np.float64) + calibration["intercept"]
    return 1.0 / (1.0 + np.exp(-logits))


def expected_calibration_error(
    probs: np.ndarray, labels: np.ndarray, bins: int = RELIABILITY_BINS
) -> float:
    """ECE: the pair-weighted mean gap between mean P(match) and the match rate, per bin."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if probs.size == 0:
        return float("nan")
    index = np.minimum((probs * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        chosen = index == b
        if chosen.any():
            error += chosen.mean() * abs(probs[chosen].mean() - labels[chosen].mean())
    return float(error)


def calibration_from_scores(
    scores: np.ndarray, labels: np.ndarray, method: str, **extra: Any
) -> dict[str, Any]:
    """A stored calibration: logistic coefficients, where P = 0.5, and its ECE on the data."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    coef, intercept = fit_logistic(scores, labels)
    calibration: dict[str, Any] = {
        "method": method,
        "coef": coef,
        "intercept": intercept,
        "n_verdicts": int(labels.size),
        "n_match": int(labels.sum()),
        "n_mismatch": int(labels.size - labels.sum()),
        **extra,
    }
    calibration["ece"] = round(
        expected_calibration_error(probabilities(calibration, scores), labels), 4
    )
    if coef:
        calibration["score_at_p50"] = -intercept / coef
    return calibration


def plot_reliability(
    probs: np.ndarray, labels: np.ndarray, path: str | Path, bins: int = RELIABILITY_BINS
) -> Path:
    """A reliability diagram: match rate against mean P(match) per bin, with the diagonal."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    index = np.minimum((probs * bins).astype(int), bins - 1)
    chosen = [index == b for b in range(bins)]
    centres = [probs[mask].mean() for mask in chosen if mask.any()]
    rates = [labels[mask].mean() for mask in chosen if mask.any()]
    figure = Figure(figsize=(5, 5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect")
    axes.plot(centres, rates, marker="o", label="model")
    ece = expected_calibration_error(probs, labels, bins)
    axes.set(
        title=f"Reliability (ECE {ece:.3f}, {probs.size} pairs)",
        xlabel="predicted P(match)",
        ylabel="observed match rate",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    axes.legend(loc="upper left")
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, format="png", dpi=100)
    return output
