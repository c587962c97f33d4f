"""Products (CRUD) and product images (multipart upload, list, delete)."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from catalog.models import Product, ProductImage
from clipanalysis.api.serializers.catalog import ProductImageSerializer, ProductSerializer
from clipanalysis.filtersets import ProductFilterSet, ProductImageFilterSet
from clipanalysis.models import AnalysisResult
from clipanalysis.product_status import with_analysis_status
from config.api.errors import ErrorSerializer
from config.api.parsers import SizeLimitedMultiPartParser
from config.api.query import ID_PATTERN, StrictQueryMixin

REPLACE_CONFLICT = OpenApiResponse(
    ErrorSerializer, description="Another image of the product already has these bytes."
)


def images_with_current_analysis(queryset=None):
    return (queryset if queryset is not None else ProductImage.objects.all()).prefetch_related(
        Prefetch(
            "analyses",
            queryset=AnalysisResult.objects.current().select_related("model_version"),
            to_attr="current_analyses",
        )
    )


class ProductViewSet(StrictQueryMixin, viewsets.ModelViewSet):
    """Products; saving a changed description re-scores the product's images."""

    queryset = with_analysis_status(Product.objects.all()).prefetch_related(
        Prefetch("images", queryset=images_with_current_analysis().order_by("pk"))
    )
    serializer_class = ProductSerializer
    filterset_class = ProductFilterSet
    ordering_fields = ["created_at", "updated_at", "sku", "title", "category"]
    ordering = ["-created_at", "-id"]
    lookup_value_regex = ID_PATTERN


@extend_schema_view(
    create=extend_schema(
        summary="Upload an image to a product",
        description="Multipart upload. The same file on the same product is not stored twice: "
        "the existing image comes back with 200 instead of 201.",
        responses={
            201: ProductImageSerializer,
            200: OpenApiResponse(ProductImageSerializer, description="Already on the product."),
        },
    ),
    update=extend_schema(
        summary="Replace an image's file",
        description="Multipart. New bytes get a new content hash, size and format, the old "
        "analysis stops being current and the new picture is analysed and reviewed.",
        responses={200: ProductImageSerializer, 409: REPLACE_CONFLICT},
    ),
    partial_update=extend_schema(
        summary="Replace an image's file (the same as PUT)",
        responses={200: ProductImageSerializer, 409: REPLACE_CONFLICT},
    ),
)
class ProductImageViewSet(
    StrictQueryMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Product images; a new or replaced image is analysed after it is stored."""

    queryset = images_with_current_analysis(ProductImage.objects.select_related("product"))
    serializer_class = ProductImageSerializer
    filterset_class = ProductImageFilterSet
    parser_classes = [SizeLimitedMultiPartParser]
    ordering_fields = ["uploaded_at", "width", "height"]
    ordering = ["-uploaded_at", "-id"]
    lookup_value_regex = ID_PATTERN

    def create(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        image = serializer.save()
        body = self.get_serializer(self.get_queryset().get(pk=image.pk)).data
        return Response(body, status=status.HTTP_201_CREATED if serializer.created else 200)

    def update(self, request, *args, **kwargs) -> Response:
        super().update(request, *args, **kwargs)
        image = self.get_queryset().get(pk=self.get_object().pk)
        return Response(self.get_serializer(image).data)
