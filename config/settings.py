"""Settings for the catalog image checker: every value comes from the environment.

`.env.example` lists each variable with its default. Tests override values with
fixtures, never with another settings module.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# --- Core -------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-debug"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "catalog",
    "clipanalysis",
    "training",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clipanalysis.context_processors.scoring_model",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# SQLite (WAL) is the embedded default; DATABASE_URL switches to PostgreSQL.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")),
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Files ------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
SERVE_MEDIA = env_bool("SERVE_MEDIA", True)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Uploads and decoding ---------------------------------------------------
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Pillow's default (89 Mpx) lets a 250 MB bitmap through; product photos are far smaller.
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 40_000_000)
ALLOWED_IMAGE_FORMATS = env_list(
    "ALLOWED_IMAGE_FORMATS", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"]
)

# --- Background work (django-q2) -------------------------------------------
# The database is the source of truth for analysis work (status + lease on each
# row); the broker only delivers wake-ups. `retry` is above `timeout` so the ORM
# broker never hands out a task again while a worker is still running it.
REDIS_URL = env_str("REDIS_URL")
ANALYSIS_TASK_TIMEOUT = env_int("ANALYSIS_TASK_TIMEOUT", 300)
ANALYSIS_LEASE_SECONDS = env_int("ANALYSIS_LEASE_SECONDS", ANALYSIS_TASK_TIMEOUT + 60)
ANALYSIS_MAX_ATTEMPTS = env_int("ANALYSIS_MAX_ATTEMPTS", 3)
Q_CLUSTER = {
    "name": env_str("Q_CLUSTER_NAME", "catalog"),
    "workers": env_int("Q_WORKERS", 2),
    "timeout": ANALYSIS_TASK_TIMEOUT,
    "retry": ANALYSIS_TASK_TIMEOUT + 120,
    "max_attempts": 2,
    "catch_up": False,
    "save_limit": env_int("Q_SAVE_LIMIT", 1000),
    "ack_failures": True,
    "sync": env_bool("Q_SYNC", False),
    "poll": 0.5,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- CLIP -------------------------------------------------------------------
CLIP_MODEL_NAME = env_str("CLIP_MODEL_NAME", "openai/clip-vit-base-patch32")
CLIP_SIMILARITY_THRESHOLD = env_float("CLIP_SIMILARITY_THRESHOLD", 0.25)
CLIP_DEVICE = env_str("CLIP_DEVICE", "auto")  # auto | cpu | cuda
CLIP_DTYPE = env_str("CLIP_DTYPE", "auto")  # auto | float32 | bfloat16 | float16
CLIP_TORCH_THREADS = env_int("CLIP_TORCH_THREADS", 0)  # 0: cores / workers
CLIP_BATCH_SIZE = env_int("CLIP_BATCH_SIZE", 32)
CLIP_USE_ZERO_SHOT = env_bool("CLIP_USE_ZERO_SHOT", True)
CLIP_ZERO_SHOT_LABELS = env_list(
    "CLIP_ZERO_SHOT_LABELS",
    ["t-shirt", "mug", "shoe", "lamp", "backpack", "watch", "chair", "bottle", "dress", "phone"],
)
# Attribute-level explanation (stated vs seen colour and category) on every result.
CLIP_EXPLAIN = env_bool("CLIP_EXPLAIN", True)
# Where the hub is unreachable, the offline demo model (built by
# `manage.py build_demo_model`) serves instead of CLIP_MODEL_NAME.
CLIP_OFFLINE_FALLBACK = env_bool("CLIP_OFFLINE_FALLBACK", True)
DEMO_MODEL_DIR = Path(env_str("DEMO_MODEL_DIR", str(VAR_DIR / "models" / "demo-clip")))
MODELS_DIR = Path(env_str("MODELS_DIR", str(VAR_DIR / "models")))

# --- Quality checks -----------------------------------------------------------
QUALITY_PRESET = env_str("QUALITY_PRESET", "general")  # general | marketplace
NEAR_DUPLICATE_MAX_DISTANCE = env_int("NEAR_DUPLICATE_MAX_DISTANCE", 6)

# --- Review queue ---------------------------------------------------------------
# A result whose score lies within this distance of the threshold is uncertain.
REVIEW_UNCERTAINTY_BAND = env_float("REVIEW_UNCERTAINTY_BAND", 0.03)
CALIBRATION_MIN_VERDICTS = env_int("CALIBRATION_MIN_VERDICTS", 50)

# --- REST API -----------------------------------------------------------------
UPLOAD_WAIT_SECONDS = env_float("UPLOAD_WAIT_SECONDS", 30.0)
BATCH_MAX_ITEMS = env_int("BATCH_MAX_ITEMS", 16)
# API plumbing lives in config/api/: every 4xx answers {"error": {"code", "message",
# "fields"}}, the schema class documents those responses on every operation, unknown
# query parameters and orderings are a 400.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.permissions.CatalogWriteAccess"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "config.api.query.StrictOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.PagePagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50),
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "config.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "config.api.throttling.AnonThrottle",
        "config.api.throttling.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "60/minute"),
        "user": env_str("API_THROTTLE_USER", "6000/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Catalog image check API",
    "DESCRIPTION": "Products, images, CLIP image–text analyses, review queue and models.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "ENUM_NAME_OVERRIDES": {
        "AnalysisStatusEnum": "clipanalysis.models.AnalysisResult.Status",
        "ProductStatusEnum": "clipanalysis.product_status.ProductAnalysisStatus.CHOICES",
    },
}

# --- Logging ------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
