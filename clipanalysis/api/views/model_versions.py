"""Model versions: list with metrics; activating one (its own permission) re-scores the catalog."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from clipanalysis import pipeline, registry
from clipanalysis.api.serializers.model_versions import ActivationSerializer, ModelVersionSerializer
from clipanalysis.filtersets import ModelVersionFilterSet
from clipanalysis.models import ModelVersion
from config.api.permissions import CanActivateModels
from config.api.query import ID_PATTERN, StrictQueryMixin


class ModelVersionViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    queryset = ModelVersion.objects.all()
    serializer_class = ModelVersionSerializer
    filterset_class = ModelVersionFilterSet
    ordering_fields = ["created_at", "activated_at", "version"]
    ordering = ["-created_at", "-id"]
    lookup_value_regex = ID_PATTERN

    @extend_schema(
        summary="Make this the scoring model (needs clipanalysis.activate_modelversion)",
        description="Switches the active model and queues every image for re-scoring with it. "
        "Activation has its own permission (the Operators group), not staff status.",
        request=None,
        responses={200: ActivationSerializer},
    )
    @action(detail=True, methods=["post"], permission_classes=[CanActivateModels])
    def activate(self, request, pk=None) -> Response:
        model_version = self.get_object()
        queued = pipeline.rescore_catalog(registry.activate(model_version))
        body = {"model": model_version, "queued_images": queued}
        return Response(ActivationSerializer(body).data)
