"""Attribute vocabularies in the admin: families with their terms, and re-explaining.

An edit takes effect on the next analysis without a restart
(``clipanalysis.vocabularies`` re-reads the tables when they change). Results
scored before the edit keep their explanation until re-explained: the action
here (and ``manage.py reexplain``) recomputes it from stored image embeddings.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count

from clipanalysis import pipeline
from clipanalysis.models import AttributeFamily, AttributeTerm


class AttributeTermInline(admin.TabularInline):
    model = AttributeTerm
    fields = ["value", "synonyms", "is_active"]
    extra = 1


def report_reexplained(modeladmin, request, counts: dict[str, int]) -> None:
    modeladmin.message_user(
        request,
        f"Re-explained {counts['reexplained']} result(s) from stored embeddings; "
        f"{counts['changed']} explanation(s) changed, {counts['skipped']} skipped "
        "(no stored embedding: they are explained again when next scored).",
        messages.SUCCESS,
    )


@admin.register(AttributeFamily)
class AttributeFamilyAdmin(admin.ModelAdmin):
    list_display = ["name", "label", "term_count", "is_active", "opens_review", "updated_at"]
    list_filter = ["is_active", "opens_review"]
    search_fields = ["name", "label", "terms__value", "terms__synonyms"]
    inlines = [AttributeTermInline]
    actions = ["reexplain_results"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_terms=Count("terms"))

    @admin.display(description="Terms", ordering="n_terms")
    def term_count(self, obj: AttributeFamily) -> int:
        return obj.n_terms

    @admin.action(
        description="Re-explain the current results these families affect", permissions=["change"]
    )
    def reexplain_results(self, request, queryset):
        counts = pipeline.reexplain(family_names=list(queryset.values_list("name", flat=True)))
        report_reexplained(self, request, counts)


@admin.register(AttributeTerm)
class AttributeTermAdmin(admin.ModelAdmin):
    list_display = ["value", "family", "synonyms", "is_active", "updated_at"]
    list_filter = ["family", "is_active"]
    search_fields = ["value", "synonyms"]
    list_select_related = ["family"]
    actions = ["reexplain_results"]

    @admin.action(
        description="Re-explain the current results these terms' families affect",
        permissions=["change"],
    )
    def reexplain_results(self, request, queryset):
        names = sorted(set(queryset.values_list("family__name", flat=True)))
        counts = pipeline.reexplain(family_names=names)
        report_reexplained(self, request, counts)
