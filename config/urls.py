from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.static import serve

# Under /api/ and /upload, 400s raised before any view (a disallowed Host) are JSON too.
handler400 = "config.api.errors.bad_request"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("config.api_urls")),
]

if settings.SERVE_MEDIA:
    # Uploaded images for the admin and the API; a production proxy serves MEDIA_ROOT instead.
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]
