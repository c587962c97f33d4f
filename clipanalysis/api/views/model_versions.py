"""Model versions: list with metrics; activating one (its own permission) re-scores the catalog."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from clipanalysis import registry
from clipanalysis.api.serializers.model_versions import (
    ActivationRequestSerializer,
    ActivationSerializer,
    ModelVersionSerializer,
)
from clipanalysis.filtersets import ModelVersionFilterSet
from clipanalysis.models import ModelVersion
from config.api.errors import ErrorSerializer
from config.api.permissions import CanActivateModels
from config.api.query import ID_PATTERN, StrictQueryMixin


class ModelNotLoadableError(APIException):
    status_code = 409
    default_code = "model_not_loadable"
    default_detail = "The model is not loadable; the active model is unchanged."


class ActivationRefusedError(APIException):
    status_code = 409
    default_code = "activation_refused"
    default_detail = "The activation guard refused the candidate; the active model is unchanged."


class ModelVersionViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    queryset = ModelVersion.objects.all()
    serializer_class = ModelVersionSerializer
    filterset_class = ModelVersionFilterSet
    ordering_fields = ["created_at", "activated_at", "version"]
    ordering = ["-created_at", "-id"]
    lookup_value_regex = ID_PATTERN

    @extend_schema(
        summary="Make this the scoring model (needs clipanalysis.activate_modelversion)",
        description="Goes through the same activation guard as manage.py activate_model and "
        "the admin: the model is loaded and scored first (a model that cannot load answers "
        "409 model_not_loadable), then compared with the active model on the held-out "
        "verdict set. A candidate that is worse overall, loses more than "
        "ACTIVATION_GUARD_MARGIN on a slice, or cannot be told apart on too few held-out "
        "verdicts answers 409 activation_refused with the comparison table in the message, "
        'unless the body says {"force": true} (recorded as a forced activation). On success '
        "the switch is recorded in the model history and every image is queued for "
        "re-scoring. Activation has its own permission (the Operators group), not staff status.",
        request=ActivationRequestSerializer,
        responses={200: ActivationSerializer, 409: ErrorSerializer},
    )
    @action(detail=True, methods=["post"], permission_classes=[CanActivateModels])
    def activate(self, request, pk=None) -> Response:
        model_version = self.get_object()
        options = ActivationRequestSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        try:
            outcome = registry.activate_guarded(
                model_version, by=request.user, force=options.validated_data["force"]
            )
        except registry.ModelNotLoadable as error:
            message = f"Not activated, the model is not loadable: {error}"
            raise ModelNotLoadableError(message) from error
        if not outcome.activated:
            raise ActivationRefusedError(
                f"{outcome.message} {model_version.version} stays inactive; "
                f'send {{"force": true}} to activate it anyway.\n{outcome.table}'.rstrip()
            )
        body = {
            "model": model_version,
            "queued_images": outcome.queued,
            "message": outcome.message,
            "comparison": outcome.table,
        }
        return Response(ActivationSerializer(body).data)
