import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Start-up applies a changed CLIP_MODEL_NAME here too (gunicorn, runserver), not only in
# `manage.py serve`: once per process, never failing start-up (clipanalysis.serving).
from clipanalysis.serving import apply_configured_model  # noqa: E402  (needs the app registry)

apply_configured_model("web")
