from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from clipanalysis.health import healthz
from config.media import serve_media

# Under /api/ and /upload, 400s raised before any view (a disallowed Host) are JSON too;
# a 500 there is JSON, and a dependency that is down is a 503 everywhere.
handler400 = "config.api.errors.bad_request"
handler500 = "config.api.errors.server_error"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("config.api_urls")),
]

if settings.SERVE_MEDIA:
    # Uploaded images for the admin and the API; a production proxy serves MEDIA_ROOT instead
    # (with the same headers: README "Production").
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve_media)]
