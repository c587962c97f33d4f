"""Model versions: list with metrics; activating one (its own permission) re-scores the catalog."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from clipanalysis import pipeline, registry
from clipanalysis.api.serializers.model_versions import ActivationSerializer, ModelVersionSerializer
from clipanalysis.filtersets import ModelVersionFilterSet
from clipanalysis.models import ModelVersion
from config.api.errors import ErrorSerializer
from config.api.permissions import CanActivateModels
from config.api.query import ID_PATTERN, StrictQueryMixin


class ModelNotLoadableError(APIException):
    status_code = 409
    default_code = "model_not_loadable"
    default_detail = "The model is not loadable; the active model is unchanged."


class ModelVersionViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    queryset = ModelVersion.objects.all()
    serializer_class = ModelVersionSerializer
    filterset_class = ModelVersionFilterSet
    ordering_fields = ["created_at", "activated_at", "version"]
    ordering = ["-created_at", "-id"]
    lookup_value_regex = ID_PATTERN

    @extend_schema(
        summary="Make this the scoring model (needs clipanalysis.activate_modelversion)",
        description="Loads the model and scores one image with it first; a model that cannot "
        "load answers 409 (model_not_loadable) and the active model stays. Then switches the "
        "active model (recorded in the model history) and queues every image for re-scoring "
        "with it. Activation has its own permission (the Operators group), not staff status. "
        "The comparison guard runs in manage.py activate_model and improve_model.",
        request=None,
        responses={200: ActivationSerializer, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"], permission_classes=[CanActivateModels])
    def activate(self, request, pk=None) -> Response:
        model_version = self.get_object()
        try:
            activated = registry.activate(model_version, by=request.user)
        except registry.ModelNotLoadable as error:
            message = f"Not activated, the model is not loadable: {error}"
            raise ModelNotLoadableError(message) from error
        queued = pipeline.rescore_catalog(activated)
        body = {"model": model_version, "queued_images": queued}
        return Response(ActivationSerializer(body).data)
