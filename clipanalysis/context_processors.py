"""Puts the scoring model in every template, for the admin banner."""

from __future__ import annotations

from django.http import HttpRequest

from clipanalysis.models import ModelVersion


def scoring_model(request: HttpRequest) -> dict:
    if not request.path.startswith("/admin"):
        return {}
    return {"scoring_model": ModelVersion.objects.active().first()}
