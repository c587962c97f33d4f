"""Changelist filters of the review queue: state (default: to do), reason, score band."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin

from clipanalysis.models import ReviewItem

State = ReviewItem.State


class QueueStateFilter(admin.SimpleListFilter):
    """State, defaulting to the work still to do (open or in review)."""

    title = "state"
    parameter_name = "queue"
    UNRESOLVED = "unresolved"

    def lookups(self, request, model_admin):
        return [
            (self.UNRESOLVED, "To do (open or in review)"),
            (State.OPEN, "Open"),
            (State.IN_REVIEW, "In review"),
            (State.RESOLVED, "Resolved"),
            ("all", "All"),
        ]

    def value(self):
        return super().value() or self.UNRESOLVED

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.UNRESOLVED:
            return queryset.open()
        if value in State.values:
            return queryset.filter(state=value)
        return queryset


class MyItemsFilter(admin.SimpleListFilter):
    """Items assigned to (or being reviewed by) the signed-in reviewer."""

    title = "assigned"
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("yes", "My items")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(assigned_to=request.user)
        return queryset


class ReasonFilter(admin.SimpleListFilter):
    """Any of the item's reasons, not just the first one."""

    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return ReviewItem.Reason.choices

    def queryset(self, request, queryset):
        if self.value() in ReviewItem.Reason.values:
            return queryset.filter(reasons__icontains=f'"{self.value()}"')
        return queryset


class ScoreBandFilter(admin.SimpleListFilter):
    title = "score band"
    parameter_name = "score"
    BANDS = {
        "0.0-0.1": (0.0, 0.1),
        "0.1-0.2": (0.1, 0.2),
        "0.2-0.3": (0.2, 0.3),
        "0.3-0.5": (0.3, 0.5),
        "0.5-1.0": (0.5, 1.01),
    }

    def lookups(self, request, model_admin):
        band = settings.REVIEW_UNCERTAINTY_BAND
        return [("near", f"Within ±{band:g} of the threshold")] + [
            (key, key.replace("-", "–")) for key in self.BANDS
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "near":
            return queryset.filter(uncertainty__lte=settings.REVIEW_UNCERTAINTY_BAND)
        if value in self.BANDS:
            low, high = self.BANDS[value]
            return queryset.filter(
                result__similarity_score__gte=low, result__similarity_score__lt=high
            )
        return queryset
