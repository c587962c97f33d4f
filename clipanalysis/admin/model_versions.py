"""Model versions and their history: every activation, with who, when and what it measured.

Activating from here goes through the same comparison guard as ``manage.py activate_model``
(``registry.activate_guarded``, installed by the training app): the model is loaded and
compared with the active one on the held-out verdict set, and refused with the table when
it is worse, unless the operator ticks "activate anyway".
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.html import format_html

from catalog.models import ProductImage
from clipanalysis import registry
from clipanalysis.models import ModelActivation, ModelVersion
from config.api.permissions import ACTIVATE_PERMISSION


class ActivationInline(admin.TabularInline):
    model = ModelActivation
    fk_name = "model_version"
    fields = ["activated_at", "kind", "activated_by", "previous", "threshold", "guard_summary"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Guard")
    def guard_summary(self, obj: ModelActivation) -> str:
        return guard_summary(obj)


def guard_summary(obj: ModelActivation) -> str:
    """One line: the overall ROC-AUC change on the held-out set, or why there was none."""
    overall = (obj.metrics or {}).get("overall")
    if not overall:
        return "no comparison"
    active, candidate = overall.get("active_auc"), overall.get("candidate_auc")
    if active is None or candidate is None:
        return f"too few held-out pairs ({overall.get('n', 0)})"
    verdict = "accepted" if obj.metrics.get("accepted") else "refused"
    return f"ROC-AUC {active:.3f} → {candidate:.3f} on {overall['n']} pairs ({verdict})"


@admin.register(ModelActivation)
class ModelActivationAdmin(admin.ModelAdmin):
    """The model history: read-only, newest first."""

    list_display = [
        "activated_at",
        "model_version",
        "kind",
        "activated_by",
        "previous",
        "threshold",
        "guard",
    ]
    list_filter = ["kind"]
    list_select_related = ["model_version", "previous", "activated_by"]
    search_fields = ["model_version__version", "previous__version", "note"]
    fields = [
        "activated_at",
        "model_version",
        "kind",
        "activated_by",
        "previous",
        "threshold",
        "note",
        "comparison",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Guard")
    def guard(self, obj: ModelActivation) -> str:
        return guard_summary(obj)

    @admin.display(description="Comparison on the held-out verdict set")
    def comparison(self, obj: ModelActivation) -> str:
        if not obj.metrics:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(obj.metrics, indent=2, sort_keys=True))


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "version",
        "source",
        "threshold",
        "calibrated",
        "is_active",
        "created_at",
        "activated_at",
    ]
    list_filter = ["source", "is_active"]
    search_fields = ["version", "name_or_path", "base_model"]
    readonly_fields = ["is_active", "activated_at", "created_at", "calibration"]
    actions = ["activate_version"]
    inlines = [ActivationInline]

    @admin.display(description="Calibrated on", ordering="calibration")
    def calibrated(self, obj: ModelVersion) -> str:
        if not obj.calibration:
            return "—"
        return f"{obj.calibration.get('n_verdicts', '?')} verdicts"

    def has_activate_permission(self, request) -> bool:
        return request.user.has_perm(ACTIVATE_PERMISSION)

    @admin.action(description="Activate (score the catalog with it)", permissions=["activate"])
    def activate_version(self, request, queryset):
        """Confirm, then make the one selected version the scoring model and re-score."""
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one model version to activate.", messages.WARNING
            )
            return None
        model_version = queryset.get()
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": f"Activate {model_version.version}?",
                "opts": self.model._meta,
                "model_version": model_version,
                "active": ModelVersion.objects.active().exclude(pk=model_version.pk).first(),
                "image_count": ProductImage.objects.count(),
                "action": request.POST.get("action"),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            request.current_app = self.admin_site.name
            return TemplateResponse(
                request, "admin/clipanalysis/modelversion/activate_confirmation.html", context
            )
        try:
            outcome = registry.activate_guarded(
                model_version, by=request.user, force=request.POST.get("force") == "on"
            )
        except registry.ModelNotLoadable as error:
            self.message_user(
                request, f"Not activated, the model is not loadable: {error}", messages.ERROR
            )
            return None
        table = format_html("<pre>{}</pre>", outcome.table) if outcome.table else ""
        if not outcome.activated:
            self.message_user(
                request,
                format_html(
                    "{} {} stays inactive; tick “activate anyway” to force it.{}",
                    outcome.message,
                    model_version.version,
                    table,
                ),
                messages.ERROR,
            )
            return None
        self.message_user(
            request,
            format_html(
                "{} {}; {} image(s) queued for re-scoring.{}",
                outcome.message,
                model_version.version,
                outcome.queued,
                table,
            ),
            messages.SUCCESS,
        )
        return None
