"""The review queue's own pages: one item big (keyboard verdicts), next item, dashboard.

A mixin for ``ReviewItemAdmin``. The views stay thin: every write goes through
``clipanalysis.review``, whose ``ReviewError`` messages are shown as they are.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from clipanalysis import review, review_dashboard
from clipanalysis.admin.display import score_badge
from clipanalysis.models import ReviewItem, Verdict

State = ReviewItem.State
Decision = Verdict.Decision
REASON_LABELS = dict(ReviewItem.Reason.choices)


def review_url(item: ReviewItem) -> str:
    return reverse("admin:clipanalysis_reviewitem_review", args=[item.pk])


class ReviewPagesMixin:
    """Adds ``<id>/review/``, ``review/next/`` and ``dashboard/`` to the queue's admin."""

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/review/", wrap(self.review_view), name=f"{prefix}_review"),
            path("review/next/", wrap(self.next_view), name=f"{prefix}_next"),
            path("review/undo/", wrap(self.undo_view), name=f"{prefix}_undo"),
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
        if request.POST.get("action") == "revise":
            return self.revise(request, item)
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
        except review.AlreadyRecorded:
            messages.info(request, "That verdict was already recorded; moving on.")
            return self.go_to_next(request, after=item)
        except review.AlreadyResolved as error:
            item.refresh_from_db()
            return self.render_review(request, item, error=error.message, status=409)
        except review.ReviewError as error:
            return self.render_review(
                request, item, error=error.message, status=400, draft=text if correcting else None
            )
        label = "Corrected description" if correcting else Decision(decision).label
        messages.success(request, f"{label} recorded for {item.image.product.sku}.")
        return self.go_to_next(request, after=item)

    def revise(self, request: HttpRequest, item: ReviewItem) -> HttpResponse:
        """Replace the verdict that counts with another decision; the reason is required."""
        decision = request.POST.get("decision", "")
        reason = request.POST.get("reason", "")
        try:
            review.revise_verdict(item, reviewer=request.user, decision=decision, reason=reason)
        except review.ReviewError as error:
            return self.render_review(
                request, item, error=error.message, status=400, reason_draft=reason
            )
        messages.success(
            request, f"Verdict revised to {Decision(decision).label} for {item.image.product.sku}."
        )
        return HttpResponseRedirect(review_url(item))

    def undo_view(self, request: HttpRequest) -> HttpResponse:
        """POST: retract your newest verdict and go back to its item."""
        if request.method != "POST":
            return HttpResponse("Use the Undo button.", status=405, headers={"Allow": "POST"})
        if not self.has_review_permission(request):
            raise PermissionDenied
        try:
            item = review.undo_last_verdict(request.user)
        except review.ReviewError as error:
            messages.warning(request, error.message)
            back = request.POST.get("back", "")
            if back.isdigit() and ReviewItem.objects.filter(pk=int(back)).exists():
                return HttpResponseRedirect(reverse(self._review_name, args=[int(back)]))
            return HttpResponseRedirect(reverse("admin:clipanalysis_reviewitem_changelist"))
        messages.success(request, f"Verdict undone for {item.image.product.sku}.")
        return HttpResponseRedirect(review_url(item))

    _review_name = "admin:clipanalysis_reviewitem_review"

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
        reason_draft: str = "",
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
            "score_badge": score_badge(result.similarity_score, result.is_match),
            "reasons": [REASON_LABELS.get(reason, reason) for reason in item.reasons],
            "checks": checks,
            "zero_shot": zero_shot,
            "history": review.latest_verdicts_for_image(item.image_id),
            "changes": review.changes_for_image(item.image_id),
            "standing": item.latest_verdict,
            "undoable": review.last_undoable_verdict(request.user),
            "reason_draft": reason_draft,
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
