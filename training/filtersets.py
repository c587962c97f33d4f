"""Filters for model versions."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from config.api.query import BooleanFilter
from training.models import ModelVersion


class ModelVersionFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="search", help_text="Search version, location and base model.")
    source = filters.ChoiceFilter(choices=ModelVersion.Source.choices)
    is_active = BooleanFilter()

    class Meta:
        model = ModelVersion
        fields = ["q", "source", "is_active"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(version__icontains=value)
            | Q(name_or_path__icontains=value)
            | Q(base_model__icontains=value)
        )
