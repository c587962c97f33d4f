"""Figures for the review dashboard: queue load, reviewer throughput, model vs reviewers.

Read-only ORM queries plus one matplotlib chart (Agg backend, no pyplot, so it
is safe in threaded servers), embedded in the page as a PNG data URI.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from clipanalysis.models import ModelVersion, ReviewItem, Verdict
from clipanalysis.scoring_backlog import scoring_backlog

Decision = Verdict.Decision


def open_items_by_reason() -> list[tuple[str, int]]:
    """Open items per reason (an item with two reasons counts under both)."""
    counts = ReviewItem.objects.open().aggregate(
        **{
            reason: Count("pk", filter=Q(reasons__icontains=f'"{reason}"'))
            for reason in ReviewItem.Reason.values
        }
    )
    return [(label, counts[value]) for value, label in ReviewItem.Reason.choices]


def verdicts_per_day(days: int = 30) -> list[dict]:
    """Verdicts per day and decision over the last ``days`` days, newest first."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        Verdict.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            total=Count("pk"),
            **{value: Count("pk", filter=Q(decision=value)) for value in Decision.values},
        )
        .order_by("-day")
    )
    return list(rows)


@dataclass
class Agreement:
    """Model decision (score ≥ threshold) against the reviewer's match / mismatch."""

    both_match: int = 0
    both_mismatch: int = 0
    model_match_reviewer_mismatch: int = 0
    model_mismatch_reviewer_match: int = 0

    @property
    def total(self) -> int:
        return (
            self.both_match
            + self.both_mismatch
            + self.model_match_reviewer_mismatch
            + self.model_mismatch_reviewer_match
        )

    @property
    def rate(self) -> float | None:
        return (self.both_match + self.both_mismatch) / self.total if self.total else None


def agreement() -> tuple[Agreement, list[tuple[str, Agreement]]]:
    """Overall and per model version. "Bad image" verdicts say nothing about the text."""
    rows = (
        Verdict.objects.latest_per_item()
        .labelling()
        .filter(result__is_match__isnull=False)
        .values("result__model_version", "result__is_match", "decision")
        .annotate(n=Count("pk"))
    )
    overall, by_version = Agreement(), {}
    for row in rows:
        model_match = row["result__is_match"]
        reviewer_match = row["decision"] == Decision.MATCH
        if model_match and reviewer_match:
            field = "both_match"
        elif not model_match and not reviewer_match:
            field = "both_mismatch"
        elif model_match:
            field = "model_match_reviewer_mismatch"
        else:
            field = "model_mismatch_reviewer_match"
        version = by_version.setdefault(row["result__model_version"], Agreement())
        for target in (overall, version):
            setattr(target, field, getattr(target, field) + row["n"])
    names = dict(ModelVersion.objects.filter(pk__in=by_version).values_list("pk", "version"))
    return overall, [(names.get(pk, str(pk)), value) for pk, value in by_version.items()]


def scores_by_decision() -> dict[str, list[float]]:
    """Similarity scores of the analyses reviewers ruled a match, and a mismatch."""
    scores: dict[str, list[float]] = {Decision.MATCH: [], Decision.MISMATCH: []}
    rows = (
        Verdict.objects.latest_per_item()
        .labelling()
        .filter(result__similarity_score__isnull=False)
        .values_list("decision", "result__similarity_score")
    )
    for decision, score in rows:
        scores[decision].append(score)
    return scores


def score_histogram_png(scores: dict[str, list[float]], threshold: float | None) -> bytes:
    """Overlaid histograms of reviewer-confirmed matches and mismatches, as PNG bytes."""
    # Imported here: matplotlib costs a second at start-up and only this page draws.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    bins = [i / 40 for i in range(41)]
    for decision, colour in ((Decision.MATCH, "#1a7f37"), (Decision.MISMATCH, "#cf222e")):
        values = scores.get(decision, [])
        axes.hist(
            values,
            bins=bins,
            alpha=0.6,
            color=colour,
            label=f"{Decision(decision).label} ({len(values)})",
        )
    if threshold is not None:
        axes.axvline(threshold, color="#444", linestyle="--", label=f"threshold {threshold:.3f}")
    axes.set_xlabel("similarity score")
    axes.set_ylabel("verdicts")
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def dashboard_context() -> dict:
    active = ModelVersion.objects.active().first()
    scores = scores_by_decision()
    png = score_histogram_png(scores, active.threshold if active else None)
    overall, by_version = agreement()
    per_day = verdicts_per_day()
    busiest = max((row["total"] for row in per_day), default=0)
    for row in per_day:
        row["width"] = round(100 * row["total"] / busiest)
    return {
        "open_by_reason": open_items_by_reason(),
        "open_total": ReviewItem.objects.open().count(),
        "per_day": per_day,
        "histogram_png": base64.b64encode(png).decode("ascii"),
        "score_counts": {decision: len(values) for decision, values in scores.items()},
        "agreement": overall,
        "agreement_by_version": by_version,
        "backlog": scoring_backlog(),
    }
