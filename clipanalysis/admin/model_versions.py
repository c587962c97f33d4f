from __future__ import annotations

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from catalog.models import ProductImage
from clipanalysis import pipeline, registry
from clipanalysis.models import ModelVersion
from config.api.permissions import ACTIVATE_PERMISSION


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
        queued = pipeline.rescore_catalog(registry.activate(model_version))
        self.message_user(
            request,
            f"Activated {model_version.version}; {queued} image(s) queued for re-scoring.",
            messages.SUCCESS,
        )
        return None
