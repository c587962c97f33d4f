"""The review queue's changelist: columns, filters and bulk verdicts with confirmation."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.text import Truncator

from clipanalysis import review
from clipanalysis.admin.display import score_badge, thumbnail
from clipanalysis.admin.queue_filters import (
    MyItemsFilter,
    QueueStateFilter,
    ReasonFilter,
    ScoreBandFilter,
)
from clipanalysis.admin.review_pages import REASON_LABELS, ReviewPagesMixin, review_url
from clipanalysis.admin.why_column import WhyColumnMixin
from clipanalysis.models import ReviewItem, Verdict
from clipanalysis.models.review_queue import queue_ordering

State = ReviewItem.State
Decision = Verdict.Decision


def reviewers():
    """Active users who may record verdicts (directly, by group, or as superusers)."""
    perm = Q(codename="review_item", content_type__app_label="clipanalysis")
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(user_permissions__in=_permissions(perm))
            | Q(groups__permissions__in=_permissions(perm))
        )
        .distinct()
        .order_by("username")
    )


def _permissions(condition):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(condition)


class QueueActionForm(ActionForm):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        label="Reviewer",
        empty_label="(nobody: back to the queue)",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only reviewers are offered; ``review.assign_items`` refuses anyone else as well.
        self.fields["assignee"].queryset = reviewers()


@admin.register(ReviewItem)
class ReviewItemAdmin(WhyColumnMixin, ReviewPagesMixin, admin.ModelAdmin):
    list_display = [
        "preview",
        "text",
        "score",
        "failing_checks",
        "categories",
        "model_version",
        "reason_list",
        "why",
        "state_and_reviewer",
        "verdict",
        "opened_at",
    ]
    list_display_links = None
    list_filter = [
        ReasonFilter,
        QueueStateFilter,
        ("image__product__category", admin.AllValuesFieldListFilter),
        ScoreBandFilter,
        MyItemsFilter,
        ("result__model_version", admin.RelatedOnlyFieldListFilter),
        ("assigned_to", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = [
        "image__product__sku",
        "image__product__title",
        "image__product__description",
        "result__description",
    ]
    list_per_page = 50
    actions = ["mark_match", "mark_mismatch", "assign_to_reviewer"]
    action_form = QueueActionForm
    change_list_template = "admin/clipanalysis/reviewitem/change_list.html"
    readonly_fields = [
        "image",
        "result",
        "reasons",
        "primary_reason",
        "priority",
        "state",
        "assigned_to",
        "opened_at",
        "resolved_at",
        "closed_reason",
    ]

    def get_ordering(self, request):
        """The queue order of ``REVIEW_QUEUE_ORDER``, read per request."""
        return list(queue_ordering())

    # Permissions: the queue is opened by the pipeline and never deleted (it is history).
    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the review page is where items change

    def has_review_permission(self, request) -> bool:
        return request.user.is_active and request.user.has_perm("clipanalysis.review_item")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("image__product", "result__model_version", "assigned_to")
            .with_latest_decision()
        )

    # --- columns ---
    @admin.display(description="Image")
    def preview(self, obj: ReviewItem) -> str:
        return format_html('<a href="{}">{}</a>', review_url(obj), thumbnail(obj.image, 96))

    @admin.display(description="Description", ordering="image__product__sku")
    def text(self, obj: ReviewItem) -> str:
        return format_html(
            '<a href="{}"><strong>{}</strong></a><br>{}',
            review_url(obj),
            obj.image.product.sku,
            Truncator(obj.result.description).chars(180),
        )

    @admin.display(description="Similarity", ordering="result__similarity_score")
    def score(self, obj: ReviewItem) -> str:
        result = obj.result
        if result.threshold is None:
            return score_badge(result.similarity_score, result.is_match)
        return format_html(
            "{}<br><small>threshold {}</small>",
            score_badge(result.similarity_score, result.is_match),
            f"{result.threshold:.3f}",
        )

    @admin.display(description="Failing quality checks")
    def failing_checks(self, obj: ReviewItem) -> str:
        return ", ".join(obj.result.quality_failures or []) or "—"

    @admin.display(description="Zero-shot / product category")
    def categories(self, obj: ReviewItem) -> str:
        predicted = obj.result.zero_shot_label or "—"
        category = obj.image.product.category or "—"
        agree = predicted.casefold() == category.casefold()
        return format_html(
            '<span style="color:{}">{}</span> / {}',
            "inherit" if agree else "#cf222e",
            predicted,
            category,
        )

    @admin.display(description="Model", ordering="result__model_version")
    def model_version(self, obj: ReviewItem) -> str:
        return str(obj.result.model_version)

    @admin.display(description="Reasons", ordering="primary_reason")
    def reason_list(self, obj: ReviewItem) -> str:
        return ", ".join(str(REASON_LABELS.get(reason, reason)) for reason in obj.reasons)

    @admin.display(description="State", ordering="state")
    def state_and_reviewer(self, obj: ReviewItem) -> str:
        if obj.assigned_to is None:
            return obj.get_state_display()
        return f"{obj.get_state_display()} ({obj.assigned_to.get_username()})"

    @admin.display(description="Verdict")
    def verdict(self, obj: ReviewItem) -> str:
        if not obj.latest_decision:
            return obj.closed_reason or "—"
        return Decision(obj.latest_decision).label

    # --- bulk verdicts, with a confirmation page ---
    @admin.action(description="Mark selected as match", permissions=["review"])
    def mark_match(self, request, queryset):
        return self._bulk_verdict(request, queryset, Decision.MATCH)

    @admin.action(description="Mark selected as mismatch", permissions=["review"])
    def mark_mismatch(self, request, queryset):
        return self._bulk_verdict(request, queryset, Decision.MISMATCH)

    @admin.action(description="Assign to reviewer…", permissions=["review"])
    def assign_to_reviewer(self, request, queryset):
        """Assign the selected open items to the reviewer chosen next to the action."""
        # The admin has validated the action form, the assignee included.
        assignee = QueueActionForm().fields["assignee"].clean(request.POST.get("assignee"))
        try:
            count = review.assign_items(queryset, assignee, by=request.user)
        except review.ReviewError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        who = assignee.get_username() if assignee else "nobody (back in the queue)"
        self.message_user(request, f"Assigned {count} open item(s) to {who}.", messages.SUCCESS)
        return None

    def _bulk_verdict(self, request, queryset, decision: str):
        items = list(queryset.in_queue_order())
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": f"Mark {len(items)} review item(s) as {Decision(decision).label}?",
                "opts": self.model._meta,
                "items": items,
                "open_items": [item for item in items if item.state != State.RESOLVED],
                "decision": decision,
                "decision_label": Decision(decision).label,
                "action": request.POST.get("action"),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            request.current_app = self.admin_site.name
            return TemplateResponse(
                request, "admin/clipanalysis/reviewitem/bulk_verdict_confirmation.html", context
            )
        recorded, skipped = 0, []
        for item in items:
            try:
                review.record_verdict(item, reviewer=request.user, decision=decision)
                recorded += 1
            except review.ReviewError as error:
                skipped.append(error.message)
        label = Decision(decision).label
        if recorded:
            self.message_user(request, f"Recorded {label} on {recorded} item(s).", messages.SUCCESS)
        for message in skipped:
            self.message_user(request, message, messages.WARNING)
        return None

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_review": self.has_review_permission(request),
            "queue_size": review.review_queue().count(),
        }
        return super().changelist_view(request, extra_context)
