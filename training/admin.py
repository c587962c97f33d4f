"""Model history, training side: every ``improve_model`` run with its stored report."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from training.models import ImprovementRun


@admin.register(ImprovementRun)
class ImprovementRunAdmin(admin.ModelAdmin):
    """Read-only, newest first: what each run trained, how it compared, what it decided."""

    list_display = [
        "started_at",
        "trigger",
        "status",
        "base_model",
        "candidate",
        "verdicts",
        "finished_at",
    ]
    list_filter = ["status", "trigger"]
    list_select_related = ["base_model", "candidate"]
    search_fields = ["message", "candidate__version", "base_model__version"]
    fields = [
        "started_at",
        "finished_at",
        "trigger",
        "status",
        "verdicts",
        "base_model",
        "candidate",
        "message",
        "comparison_table",
        "full_report",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Comparison on the held-out verdict set")
    def comparison_table(self, obj: ImprovementRun) -> str:
        table = (obj.report or {}).get("comparison_table")
        return format_html("<pre>{}</pre>", table) if table else "—"

    @admin.display(description="Report")
    def full_report(self, obj: ImprovementRun) -> str:
        report = {k: v for k, v in (obj.report or {}).items() if k != "comparison_table"}
        return format_html("<pre>{}</pre>", json.dumps(report, indent=2, sort_keys=True))
