import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()

# As config/wsgi.py: a changed CLIP_MODEL_NAME is applied once per process at start-up.
from clipanalysis.serving import apply_configured_model  # noqa: E402  (needs the app registry)

apply_configured_model("web")
