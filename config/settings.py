"""Settings for the catalog image checker: every value comes from the environment.

`.env.example` lists each variable with its default. Tests override values with
fixtures, never with another settings module.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_float, env_int, env_list, env_str
from config.local_secret import PRODUCTION, deployment, secret_key_path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# --- Core -------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
# "local" (default) or "production" (config/local_secret.py, README "Production"). Locally,
# manage.py fills SECRET_KEY from var/secret_key; production must set it explicitly.
DEPLOYMENT = deployment()
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DEPLOYMENT == PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEPLOYMENT=production: set it to 50+ random "
            "characters, the same on every machine."
        )
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off. `manage.py` generates one into "
            f"{secret_key_path()} for a local checkout; other entry points (gunicorn, "
            "scripts) need SECRET_KEY in the environment."
        )
    SECRET_KEY = "insecure-development-key-only-for-debug"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- HTTPS and cookies (production: see README "Production"; check --deploy is clean) ----
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# A load balancer polls /healthz over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies in front of the app append to X-Forwarded-For (0: use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
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
    "config.middleware.RejectNulBytesMiddleware",
    "config.middleware.DependencyUnavailableMiddleware",
    # Last, as django-axes asks: turns a locked-out login into a 429.
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
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
# Connections are closed after each request unless DATABASE_CONN_MAX_AGE says otherwise;
# the threaded development server opens one per client connection, so it always closes them.
DATABASE_URL = env_str("DATABASE_URL")
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 0)
if len(sys.argv) > 1 and sys.argv[1] == "runserver":
    DATABASE_CONN_MAX_AGE = 0
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 0)  # 0: no pool
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=0 if DATABASE_POOL_MAX_SIZE else DATABASE_CONN_MAX_AGE,
            conn_health_checks=True,
        )
    }
    DATABASES["default"].setdefault("OPTIONS", {})
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["OPTIONS"].setdefault(
            "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5)
        )
        if DATABASE_POOL_MAX_SIZE:
            # psycopg's pool, for threaded servers (gunicorn --threads): one pool per process.
            DATABASES["default"]["OPTIONS"]["pool"] = {
                "min_size": 1,
                "max_size": DATABASE_POOL_MAX_SIZE,
                "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),
            }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")),
            "CONN_MAX_AGE": DATABASE_CONN_MAX_AGE,
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
# Where uploaded images live: "filesystem" (MEDIA_ROOT, a shared disk when several machines
# serve) or "s3" (any S3-compatible store, through django-storages).
MEDIA_STORAGE = env_str("MEDIA_STORAGE", "filesystem")
if MEDIA_STORAGE == "s3":
    MEDIA_BACKEND = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("S3_BUCKET"),
            "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
            "region_name": env_str("S3_REGION") or None,
            "access_key": env_str("S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY") or None,
            "location": env_str("S3_PREFIX", "media"),
            "default_acl": None,  # private objects, served through expiring signed URLs
            "querystring_auth": True,
            "querystring_expire": env_int("S3_URL_EXPIRE_SECONDS", 3600),
            "file_overwrite": False,
            "object_parameters": {"CacheControl": "private, max-age=3600"},
        },
    }
elif MEDIA_STORAGE == "filesystem":
    MEDIA_BACKEND = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ImproperlyConfigured(f"MEDIA_STORAGE={MEDIA_STORAGE!r}: use filesystem or s3.")
STORAGES = {
    "default": MEDIA_BACKEND,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Cache (throttle counters, login failures' cool-off, the text-embedding cache) ---
# Redis when CACHE_URL (default: REDIS_URL) is set, so every process counts together.
CACHE_URL = env_str("CACHE_URL", env_str("REDIS_URL"))
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "catalog"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Text embeddings one process encoded are read by the others (every web and worker
# process, every machine) when the cache is shared; per process otherwise.
CLIP_SHARED_TEXT_CACHE = env_bool("CLIP_SHARED_TEXT_CACHE", bool(CACHE_URL))

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
_RASTER_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"}
if set(ALLOWED_IMAGE_FORMATS) - _RASTER_FORMATS:
    # SVG and friends can carry scripts; only these raster formats are ever stored.
    raise ImproperlyConfigured(
        f"ALLOWED_IMAGE_FORMATS may only name {sorted(_RASTER_FORMATS)}, "
        f"not {sorted(set(ALLOWED_IMAGE_FORMATS) - _RASTER_FORMATS)}."
    )
# Pixels one web process may hold decoded at once (batch scoring, formats that cannot be
# checked without decoding); what does not fit waits DECODE_WAIT_SECONDS, then is a 503.
DECODE_PIXEL_BUDGET = max(env_int("DECODE_PIXEL_BUDGET", 64_000_000), MAX_IMAGE_PIXELS)
DECODE_WAIT_SECONDS = env_float("DECODE_WAIT_SECONDS", 10.0)
# Request bodies: JSON nested deeper than this, or numbers longer than this, are a 400.
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 32)
JSON_MAX_BODY_BYTES = env_int("JSON_MAX_BODY_BYTES", 256 * 1024)
JSON_MAX_NUMBER_DIGITS = env_int("JSON_MAX_NUMBER_DIGITS", 30)

# --- Background work (django-q2) -------------------------------------------
# The database is the source of truth for analysis work (status + lease on each
# row); the broker only delivers wake-ups. A worker holds a row by a short lease that a
# heartbeat renews every ANALYSIS_HEARTBEAT_SECONDS while the analysis runs, so a task may
# run far longer than the lease (up to ANALYSIS_TASK_TIMEOUT, when django-q2 kills it);
# a dead worker's rows are released by the sweeper (every ANALYSIS_SWEEP_SECONDS, in each
# qcluster worker process) within lease + sweep seconds: 40 s with the defaults.
# `retry` is above `timeout` so the ORM broker never hands out a task again while a
# worker is still running it.
REDIS_URL = env_str("REDIS_URL")
ANALYSIS_TASK_TIMEOUT = env_int("ANALYSIS_TASK_TIMEOUT", 300)
ANALYSIS_LEASE_SECONDS = max(env_int("ANALYSIS_LEASE_SECONDS", 30), 2)
# At most a third of the lease: two beats may be missed (a slow database) before it lapses.
ANALYSIS_HEARTBEAT_SECONDS = min(
    env_float("ANALYSIS_HEARTBEAT_SECONDS", ANALYSIS_LEASE_SECONDS / 3),
    ANALYSIS_LEASE_SECONDS / 3,
)
ANALYSIS_SWEEP_SECONDS = env_float("ANALYSIS_SWEEP_SECONDS", 10.0)
# A pending row whose wake-up is this old is sent again (a Redis restart loses queued
# wake-ups); longer than the lease, so a long queue is not flooded with duplicates.
ANALYSIS_REQUEUE_PENDING_SECONDS = env_int("ANALYSIS_REQUEUE_PENDING_SECONDS", 360)
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
# torch.compile the image encoder for one padded batch shape (falls back to eager if it
# fails). Off by default: compiling costs a minute per worker start; measure before.
CLIP_COMPILE = env_bool("CLIP_COMPILE", False)
CLIP_USE_ZERO_SHOT = env_bool("CLIP_USE_ZERO_SHOT", True)
CLIP_ZERO_SHOT_LABELS = env_list(
    "CLIP_ZERO_SHOT_LABELS",
    ["t-shirt", "mug", "shoe", "lamp", "backpack", "watch", "chair", "bottle", "dress", "phone"],
)
# Attribute-level explanation (stated vs seen colour and category) on every result.
CLIP_EXPLAIN = env_bool("CLIP_EXPLAIN", True)
# How sure (0-1) the explanation must be that the text's attribute is wrong (the values the
# text does not state together this likely) to call a conflict and open a review item
# (attribute_conflict); 0.95 meets issue 15's targets on the demo catalog (README).
ATTRIBUTE_CONFLICT_CONFIDENCE = env_float("ATTRIBUTE_CONFLICT_CONFIDENCE", 0.95)
# How likely the image's zero-shot category must be, when it is not the product's own
# category field, to open a review item (category_conflict).
CATEGORY_CONFLICT_CONFIDENCE = env_float("CATEGORY_CONFLICT_CONFIDENCE", 0.5)
# How the explanation ranks a family's values: "counterfactual" (the description with the
# stated word replaced by each alternative), "templates" (the family's prompt templates) or
# "screened" (templates, then counterfactuals for flagged rows and for the families whose
# templates do not see a stated value: clipanalysis.explanation).
ATTRIBUTE_PROBE = env_choice(
    "ATTRIBUTE_PROBE", "screened", ("screened", "counterfactual", "templates")
)
# Where the hub is unreachable, the offline demo model (built by
# `manage.py build_demo_model`) serves instead of CLIP_MODEL_NAME.
CLIP_OFFLINE_FALLBACK = env_bool("CLIP_OFFLINE_FALLBACK", True)
# Whether registering/activating a hub name may download it; off: only cached hub models load.
CLIP_HUB_DOWNLOADS = env_bool("CLIP_HUB_DOWNLOADS", os.environ.get("HF_HUB_OFFLINE") != "1")
DEMO_MODEL_DIR = Path(env_str("DEMO_MODEL_DIR", str(VAR_DIR / "models" / "demo-clip")))
MODELS_DIR = Path(env_str("MODELS_DIR", str(VAR_DIR / "models")))

# --- Quality checks -----------------------------------------------------------
QUALITY_PRESET = env_str("QUALITY_PRESET", "general")  # general | marketplace
# Bits between perceptual hashes: 8 still catches a copy cropped by 2 % a side; the colour
# confirmation (clipanalysis.image_signature) keeps look-alike products out.
NEAR_DUPLICATE_MAX_DISTANCE = env_int("NEAR_DUPLICATE_MAX_DISTANCE", 8)

# --- Review queue ---------------------------------------------------------------
# A result whose score lies within this distance of the threshold is uncertain.
REVIEW_UNCERTAINTY_BAND = env_float("REVIEW_UNCERTAINTY_BAND", 0.03)
# The queue's default order: "problems" (most likely real mismatches and quality
# failures first) or "uncertain" (uncertainty sampling: closest to the decision first).
REVIEW_QUEUE_ORDER = env_choice("REVIEW_QUEUE_ORDER", "problems", ("problems", "uncertain"))
# An item a reviewer opened but left is anyone's again after this many minutes.
REVIEW_CLAIM_MINUTES = env_int("REVIEW_CLAIM_MINUTES", 15)
CALIBRATION_MIN_VERDICTS = env_int("CALIBRATION_MIN_VERDICTS", 50)

# --- Learning from verdicts (training.improvement, training.activation_guard) -------
# Share of products (by a stable hash) never trained on: the held-out comparison set.
TRAINING_HELDOUT_FRACTION = env_float("TRAINING_HELDOUT_FRACTION", 0.2)
# The guard refuses a candidate worse overall, or losing more than this ROC-AUC on a slice
# with at least ACTIVATION_GUARD_MIN_SLICE pairs; below ACTIVATION_GUARD_MIN_PAIRS held-out
# pairs of both kinds it cannot tell, and refuses unless forced.
ACTIVATION_GUARD_MARGIN = env_float("ACTIVATION_GUARD_MARGIN", 0.02)
ACTIVATION_GUARD_MIN_SLICE = env_int("ACTIVATION_GUARD_MIN_SLICE", 30)
ACTIVATION_GUARD_MIN_PAIRS = env_int("ACTIVATION_GUARD_MIN_PAIRS", 20)
# improve_model's schedule: weekly, and when this many verdicts arrived since the last run.
IMPROVE_MODEL_AFTER_VERDICTS = env_int("IMPROVE_MODEL_AFTER_VERDICTS", 200)
# Training runs in a worker with its own limit (seconds), far above an analysis task's.
IMPROVE_MODEL_TIMEOUT = env_int("IMPROVE_MODEL_TIMEOUT", 4 * 3600)

# --- REST API -----------------------------------------------------------------
UPLOAD_WAIT_SECONDS = env_float("UPLOAD_WAIT_SECONDS", 30.0)
BATCH_MAX_ITEMS = env_int("BATCH_MAX_ITEMS", 16)
# All images of one batch-score call together (16 × 6300×6300 would be 635 Mpx).
BATCH_MAX_PIXELS = env_int("BATCH_MAX_PIXELS", 48_000_000)
DATA_UPLOAD_MAX_NUMBER_FILES = BATCH_MAX_ITEMS + 4
# What a client is told to wait when the database, the broker or the pixel budget is busy.
RETRY_AFTER_SECONDS = env_int("RETRY_AFTER_SECONDS", 30)
HEALTH_MAX_QUEUE_AGE_SECONDS = env_int("HEALTH_MAX_QUEUE_AGE_SECONDS", 600)
# API plumbing lives in config/api/: every 4xx answers {"error": {"code", "message",
# "fields"}}, the schema class documents those responses on every operation, unknown
# query parameters and orderings are a 400.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.permissions.ModelPermissions"],
    "DEFAULT_PARSER_CLASSES": [
        "config.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "config.api.parsers.SizeLimitedMultiPartParser",
    ],
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
        "config.api.throttling.ScopedThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "60/minute"),
        "user": env_str("API_THROTTLE_USER", "6000/minute"),
        "batch": env_str("API_THROTTLE_BATCH", "60/minute"),
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT or None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# API tokens (django-rest-knox): stored as SHA-512 digests, shown once, expiring.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env_int("API_TOKEN_TTL_DAYS", 90)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
# Failed logins (admin and API tokens), django-axes: after LOGIN_FAILURE_LIMIT failures an
# account, and separately an address, is locked out for LOGIN_COOLOFF_MINUTES.
# The counters live in the cache (no query per request): shared by every process through
# Redis when CACHE_URL/REDIS_URL is set; without it each process counts its own (axes.W001).
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
if not CACHE_URL:
    SILENCED_SYSTEM_CHECKS = ["axes.W001"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "config.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
AXES_VERBOSE = False
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
# django-q2's per-task INFO lines are dropped (config/log_filters.py) unless LOG_EACH_TASK=1.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"per_task_noise": {"()": "config.log_filters.PerTaskNoiseFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": [] if env_bool("LOG_EACH_TASK", False) else ["per_task_noise"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
