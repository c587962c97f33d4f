"""The review queue in Django admin: changelist, keyboard review page, bulk verdicts, dashboard.

The views stay thin: every write goes through ``clipanalysis.review``, whose
``ReviewError`` messages are shown to the reviewer as they are.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from catalog.admin import thumbnail
from clipanalysis import admin as analysis_admin
from clipanalysis import review, review_dashboard
from clipanalysis.models import ReviewItem, Verdict

State = ReviewItem.State
Decision = Verdict.Decision
REASON_LABELS = dict(ReviewItem.Reason.choices)


# --- filters --------------------------------------------------------------------
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
            return queryset.filter(priority__lte=settings.REVIEW_UNCERTAINTY_BAND)
        if value in self.BANDS:
            low, high = self.BANDS[value]
            return queryset.filter(
                result__similarity_score__gte=low, result__similarity_score__lt=high
            )
        return queryset


# --- the queue ------------------------------------------------------------------
@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    list_display = [
        "preview",
        "text",
        "score",
        "failing_checks",
        "categories",
        "model_version",
        "reason_list",
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
        ("result__model_version", admin.RelatedOnlyFieldListFilter),
        ("assigned_to", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = [
        "image__product__sku",
        "image__product__title",
        "image__product__description",
        "result__description",
    ]
    ordering = ["priority", "-opened_at", "-id"]
    list_per_page = 50
    actions = ["mark_match", "mark_mismatch"]
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
        latest = Verdict.objects.filter(review_item=OuterRef("pk")).order_by("-created_at", "-id")
        return (
            super()
            .get_queryset(request)
            .select_related("image__product", "result__model_version", "assigned_to")
            .annotate(latest_decision=Subquery(latest.values("decision")[:1]))
        )

    # --- columns ---
    @admin.display(description="Image")
    def preview(self, obj: ReviewItem) -> str:
        return format_html('<a href="{}">{}</a>', review_url(obj), thumbnail(obj.image, 160))

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
            return analysis_admin.score_badge(result.similarity_score, result.is_match)
        return format_html(
            "{}<br><small>threshold {}</small>",
            analysis_admin.score_badge(result.similarity_score, result.is_match),
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

    def _bulk_verdict(self, request, queryset, decision: str):
        items = list(queryset.order_by("priority", "-opened_at", "-id"))
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

    # --- review page, next item, dashboard ---
    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/review/", wrap(self.review_view), name=f"{prefix}_review"),
            path("review/next/", wrap(self.next_view), name=f"{prefix}_next"),
            path("dashboard/", wrap(self.dashboard_view), name=f"{prefix}_dashboard"),
            *super().get_urls(),
        ]

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Show one item big; POST records a verdict or a corrected description."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        item = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "POST":
            return self.render_review(request, item)
        if not self.has_review_permission(request):
            raise PermissionDenied
        correcting = request.POST.get("action") == "correct"
        decision = Decision.MISMATCH if correcting else request.POST.get("decision", "")
        comment = request.POST.get("comment", "")
        text = request.POST.get("corrected_description", "")
        try:
            if correcting:
                review.correct_description(item, reviewer=request.user, text=text, comment=comment)
            else:
                review.record_verdict(
                    item, reviewer=request.user, decision=decision, comment=comment
                )
        except review.AlreadyResolved as error:
            if is_own_repeat(error.verdict, request.user, decision, text if correcting else None):
                messages.info(request, "That verdict was already recorded; moving on.")
                return self.go_to_next(request, after=item)
            item.refresh_from_db()
            return self.render_review(request, item, error=error.message, status=409)
        except review.ReviewError as error:
            return self.render_review(
                request, item, error=error.message, status=400, draft=text if correcting else None
            )
        label = "Corrected description" if correcting else Decision(decision).label
        messages.success(request, f"{label} recorded for {item.image.product.sku}.")
        return self.go_to_next(request, after=item)

    def next_view(self, request: HttpRequest) -> HttpResponse:
        """POST: leave the current item (if any) and open the next one in the queue."""
        if request.method != "POST":
            return HttpResponse("Use the Next item button.", status=405, headers={"Allow": "POST"})
        if not self.has_review_permission(request):
            raise PermissionDenied
        after = None
        after_id = request.POST.get("after", "")
        if after_id.isdigit():
            after = ReviewItem.objects.filter(pk=int(after_id)).first()
            if after is not None:
                review.release_item(after, request.user)
        return self.go_to_next(request, after=after)

    def go_to_next(self, request: HttpRequest, after: ReviewItem | None) -> HttpResponse:
        for _ in range(5):  # someone may take or resolve it between finding and claiming
            item = review.next_item_for(request.user, after=after)
            if item is None:
                messages.info(request, "The review queue is empty. Well done.")
                return HttpResponseRedirect(reverse("admin:clipanalysis_reviewitem_changelist"))
            try:
                review.claim_item(item, request.user)
            except review.AlreadyResolved:
                continue
            return HttpResponseRedirect(review_url(item))
        return HttpResponseRedirect(reverse("admin:clipanalysis_reviewitem_changelist"))

    def render_review(
        self,
        request: HttpRequest,
        item: ReviewItem,
        *,
        error: str = "",
        status: int = 200,
        draft: str | None = None,
    ) -> TemplateResponse:
        result = item.result
        product = item.image.product
        checks = (result.quality or {}).get("checks", [])
        zero_shot = sorted(
            (result.zero_shot_results or {}).items(), key=lambda pair: pair[1], reverse=True
        )[:5]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Review {product.sku}",
            "subtitle": None,
            "opts": self.opts,
            "item": item,
            "result": result,
            "product": product,
            "score_badge": analysis_admin.score_badge(result.similarity_score, result.is_match),
            "reasons": [REASON_LABELS.get(reason, reason) for reason in item.reasons],
            "checks": checks,
            "zero_shot": zero_shot,
            "history": review.latest_verdicts_for_image(item.image_id),
            "can_review": self.has_review_permission(request),
            "is_open": item.state != State.RESOLVED,
            "held_by_other": item.state == State.IN_REVIEW
            and item.assigned_to_id not in (None, request.user.pk),
            "draft": product.description if draft is None else draft,
            "error": error,
            "decisions": [
                (Decision.MATCH, "Match", "m"),
                (Decision.MISMATCH, "Mismatch", "x"),
                (Decision.BAD_IMAGE, "Bad image", "b"),
            ],
            "description_max": review.DESCRIPTION_MAX_CHARS,
            "comment_max": review.COMMENT_MAX_CHARS,
            "queue_size": review.review_queue().count(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/clipanalysis/reviewitem/review.html", context, status=status
        )

    def dashboard_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Review dashboard",
            "opts": self.opts,
            **review_dashboard.dashboard_context(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/clipanalysis/reviewitem/dashboard.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_review": self.has_review_permission(request),
            "queue_size": review.review_queue().count(),
        }
        return super().changelist_view(request, extra_context)


def review_url(item: ReviewItem) -> str:
    return reverse("admin:clipanalysis_reviewitem_review", args=[item.pk])


def is_own_repeat(verdict: Verdict | None, user, decision: str, corrected: str | None) -> bool:
    """A double click: the same reviewer already recorded exactly this."""
    if verdict is None or verdict.reviewer_id != user.pk or verdict.decision != decision:
        return False
    return corrected is None or verdict.corrected_description == corrected.strip()


# --- verdict history (read only: append-only) --------------------------------------
@admin.register(Verdict)
class VerdictAdmin(admin.ModelAdmin):
    list_display = ["id", "sku", "decision", "reviewer", "score", "created_at", "comment"]
    list_select_related = ["review_item__image__product", "reviewer", "result"]
    list_filter = ["decision", ("reviewer", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["review_item__image__product__sku", "corrected_description", "comment"]
    readonly_fields = [
        "review_item",
        "result",
        "decision",
        "corrected_description",
        "comment",
        "reviewer",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # verdicts are recorded on the review page

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="SKU", ordering="review_item__image__product__sku")
    def sku(self, obj: Verdict) -> str:
        return obj.review_item.image.product.sku

    @admin.display(description="Similarity", ordering="result__similarity_score")
    def score(self, obj: Verdict) -> str:
        return analysis_admin.score_badge(obj.result.similarity_score, obj.result.is_match)
