"""REST API routes: ``/api/v1/``, the seed-compatible ``/upload``, schema and docs."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from clipanalysis.api.views.scoring import SeedUploadView
from config.api.errors import api_not_found

urlpatterns = [
    path("api/v1/", include("clipanalysis.api.urls")),
    path("upload", SeedUploadView.as_view(), name="seed-upload"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    # Last: any other path under /api/ is a JSON 404, never Django's HTML page.
    re_path(r"^api/", api_not_found),
]
