from __future__ import annotations

from django.contrib import admin

from training.models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["version", "source", "threshold", "is_active", "created_at", "activated_at"]
    list_filter = ["source", "is_active"]
    search_fields = ["version", "name_or_path", "base_model"]
    readonly_fields = ["is_active", "activated_at", "created_at", "calibration"]
