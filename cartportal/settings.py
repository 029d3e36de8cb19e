"""Settings come from the environment; `.env.example` lists every variable."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from urllib.parse import unquote

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-change-me" if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "cartportal.apps.CartportalConfig",
    "segments",
    "predictions",
    "interventions",
    "cartportal.portal.apps.PortalConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cartportal.middleware.RequestIdMiddleware",
    "cartportal.uploads.UploadLimitMiddleware",
    "cartportal.middleware.SecurityHeadersMiddleware",
    "cartportal.middleware.InputGuardMiddleware",
    "cartportal.middleware.IdleTimeoutMiddleware",
    "cartportal.middleware.AppErrorMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cartportal.urls"
WSGI_APPLICATION = "cartportal.wsgi.application"

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
                "cartportal.context_processors.portal",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# DATABASE_URL is the application's role (it may only SELECT and INSERT on the audit table).
# DATABASE_OWNER_URL is the role that owns the tables; migrations and the test suite run as it
# (CARTPORTAL_DB_AS_OWNER=1). With no owner URL, one role does both and only the trigger guards the audit table.
_DB_AS_OWNER = env.bool("CARTPORTAL_DB_AS_OWNER", default=False)
_db_url = env.str("DATABASE_OWNER_URL", default="") if _DB_AS_OWNER else ""
DATABASES = {"default": env.db_url_config(_db_url or env.str("DATABASE_URL"))}
# A Unix-socket folder may be given percent-encoded as the host (postgres://user@%2Fpath%2Fto%2Fdir/db).
DATABASES["default"]["HOST"] = unquote(DATABASES["default"].get("HOST") or "")
# A worker started by the test suite points at the test database with this.
DATABASES["default"]["NAME"] = env.str("DATABASE_NAME_OVERRIDE", default=DATABASES["default"]["NAME"])
DATABASES["default"]["ENGINE"] = "cartportal.db.backends.postgresql"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The partner API's hottest reads stay prepared in each database session (cartportal/sql.py); set to false behind a
# connection pooler in transaction mode, which does not keep a session's prepared statements.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="test_cartportal")}
# A statement running longer than this many seconds is cancelled (0: no limit). gunicorn.conf.py sets 25 s for the web
# workers unless it is given, so that a request does not outlive its client (a page or API call then answers 503);
# Celery workers and commands run without a limit unless the environment sets one for them too.
CARTPORTAL_STATEMENT_TIMEOUT_SECONDS = env.float("CARTPORTAL_STATEMENT_TIMEOUT_SECONDS", default=0)
if CARTPORTAL_STATEMENT_TIMEOUT_SECONDS > 0:
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c statement_timeout={int(CARTPORTAL_STATEMENT_TIMEOUT_SECONDS * 1000)}"
    )
DATABASE_APP_ROLE = env.str("DATABASE_APP_ROLE", default=env.db_url_config(env.str("DATABASE_URL"))["USER"])

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out account or address before any password check
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

# Django's default password hashers (PBKDF2 first), unless PASSWORD_HASHERS names others (comma-separated dotted
# paths; the first hashes new passwords, the rest still verify old ones). The test suite names a fast one, since every
# test person's password would otherwise cost about 0.4 s of deliberate key stretching; never set it in production.
if env.list("PASSWORD_HASHERS", default=[]):
    PASSWORD_HASHERS = env.list("PASSWORD_HASHERS")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files: our css/js plus Chart.js from node_modules (installed pinned by the set-up command) ---
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
if (BASE_DIR / "node_modules" / "chart.js" / "dist").exists():
    STATICFILES_DIRS.append(("vendor/chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str("STATICFILES_BACKEND", default="whitenoise.storage.CompressedManifestStaticFilesStorage"),
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / ".data" / "media")

# --- Security (production values when DEBUG is off) -----------------------------------------------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- Celery ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Keys of this checkout are prefixed so that two checkouts may share one Redis without taking each
# other's tasks (the test suite starts its own worker on its own queue as well).
CELERY_KEY_PREFIX = env.str(
    "CELERY_KEY_PREFIX", default="cp-" + hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8] + ":"
)
# An unacknowledged task (acks_late: acknowledged when it ends) goes back to the queue when its worker is lost, or
# after this many seconds; an import redelivered while another copy still holds it stops at once (its lease).
_visibility_timeout = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": CELERY_KEY_PREFIX, "visibility_timeout": _visibility_timeout}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": CELERY_KEY_PREFIX}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="cartportal")

# Beat schedule: each app adds its own entries to this one dict.
from celery.schedules import crontab  # noqa: E402

CELERY_BEAT_SCHEDULE: dict = globals().get("CELERY_BEAT_SCHEDULE", {})
# Predictions: weekly retrain of the abandonment and value models (promoted only if better, then rescored),
# nightly rescore of the active models, monthly drift, and a watchdog that resumes runs whose worker died.
CELERY_BEAT_SCHEDULE.update(
    {
        "predictions-retrain-value": {
            "task": "predictions.retrain",
            "schedule": crontab(minute=30, hour=2, day_of_week="sun"),
            "args": (None, "value"),
        },
        "predictions-retrain-abandonment": {
            "task": "predictions.retrain",
            "schedule": crontab(minute=0, hour=2, day_of_week="sun"),
            "args": (None, "abandonment"),
        },
        "predictions-rescore-abandonment": {
            "task": "predictions.rescore",
            "schedule": crontab(minute=0, hour=3),
            "args": ("abandonment",),
        },
        "predictions-rescore-value": {
            "task": "predictions.rescore",
            "schedule": crontab(minute=30, hour=3),
            "args": ("value",),
        },
        "predictions-drift-abandonment": {
            "task": "predictions.drift",
            "schedule": crontab(minute=0, hour=4, day_of_month=1),
            "args": ("abandonment",),
        },
        "predictions-drift-value": {
            "task": "predictions.drift",
            "schedule": crontab(minute=15, hour=4, day_of_month=1),
            "args": ("value",),
        },
        # a run whose chunks stopped progressing for CARTPORTAL_SCORING_STALL_SECONDS has its undone chunks sent
        # again (a chunk scored twice writes the same rows: harmless)
        "predictions-resume-stalled-runs": {
            "task": "predictions.resume_stalled_runs",
            "schedule": crontab(minute="*"),
            "args": (),
        },
        # Old scores are deleted: the newest PREDICTIONS_KEEP_RUNS published runs of each kind are kept.
        "predictions-prune-runs": {
            "task": "predictions.prune_runs",
            "schedule": crontab(minute=0, hour=6),
            "args": (),
        },
    }
)


# --- Cache ---------------------------------------------------------------------------------------
# The API's throttle counters live here, so they must be shared by every web process: Django's Redis cache on the
# Redis the project already uses (CACHE_URL, else the broker's server with database CACHE_REDIS_DB, apart from
# the broker's and the results' databases so that clearing the cache never drops a queued task). Without a Redis
# URL, a local-memory cache (one process only).
def _redis_cache_location(broker_url: str, db: int) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(broker_url)
    if parts.scheme not in ("redis", "rediss"):
        return ""
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


CACHE_URL = env.str("CACHE_URL", default="") or _redis_cache_location(
    CELERY_BROKER_URL, env.int("CACHE_REDIS_DB", default=2)
)
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "cartportal.cache.RedisCache",  # Django's, with one client per pool (cartportal/cache.py)
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=CELERY_KEY_PREFIX + "cache"),
            "TIMEOUT": 300,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "cartportal"}}

# Interventions: every Monday morning, the week's promotions for every region; on Sundays the uplift model is
# retrained from the outcomes of completed campaigns (promoted only when it beats the active one).
CELERY_BEAT_SCHEDULE["interventions-weekly-promotions"] = {
    "task": "interventions.generate_promotions",
    "schedule": crontab(minute=0, hour=5, day_of_week="mon"),
    "args": (None, None),
}
# Recommendations: retrained weekly from every region's purchases (promoted only when better on a later holdout).
CELERY_BEAT_SCHEDULE["predictions-retrain-recommendation"] = {
    "task": "predictions.retrain",
    "schedule": crontab(minute=30, hour=3, day_of_week="mon"),
    "args": (None, "recommendation"),
}
RECOMMENDATION_HOLDOUT_SHARE = env.float("CARTPORTAL_RECOMMENDATION_HOLDOUT_SHARE", default=0.85)
# Products bought together: a pair is shown only when it is in at least this many orders, with this confidence and
# lift (confidence: share of the product's orders holding the companion; lift: confidence over the companion's share)
BOUGHT_TOGETHER_MIN_BASKETS = env.int("CARTPORTAL_BOUGHT_TOGETHER_MIN_BASKETS", default=3)
BOUGHT_TOGETHER_MIN_CONFIDENCE = env.float("CARTPORTAL_BOUGHT_TOGETHER_MIN_CONFIDENCE", default=0.05)
BOUGHT_TOGETHER_MIN_LIFT = env.float("CARTPORTAL_BOUGHT_TOGETHER_MIN_LIFT", default=1.5)
CELERY_BEAT_SCHEDULE["interventions-attribute-outcomes"] = {
    "task": "interventions.attribute_outcomes",
    "schedule": crontab(minute="*/30"),
}
CELERY_BEAT_SCHEDULE["interventions-train-uplift"] = {
    "task": "interventions.train_uplift",
    "schedule": crontab(minute=0, hour=4, day_of_week="sun"),
    "args": ("visited",),
}

# --- E-mail notifications ----------------------------------------------------------------------------
# Django's mail settings, from the environment. People opt in on their preferences page; the digest task sends each
# of them what is new every CARTPORTAL_NOTIFY_MINUTES (0 turns the schedule off), and CARTPORTAL_NOTIFY_DELAY_SECONDS
# after an event that is news for someone (a negative value: only on the schedule). Links point at CARTPORTAL_BASE_URL.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="cartportal <cartportal@localhost>")
CARTPORTAL_BASE_URL = env.str("CARTPORTAL_BASE_URL", default="http://127.0.0.1:8000")
CARTPORTAL_NOTIFY_MINUTES = env.int("CARTPORTAL_NOTIFY_MINUTES", default=15)
CARTPORTAL_NOTIFY_DELAY_SECONDS = env.int("CARTPORTAL_NOTIFY_DELAY_SECONDS", default=10)
if CARTPORTAL_NOTIFY_MINUTES > 0:
    CELERY_BEAT_SCHEDULE["portal-send-notifications"] = {
        "task": "portal.send_notifications",
        "schedule": dt.timedelta(minutes=CARTPORTAL_NOTIFY_MINUTES),
    }

# --- REST framework -------------------------------------------------------------------------------
# The customer list's total is kept this long at most between changes to the customers (cartportal/api/counts.py;
# 0 counts on every request).
API_COUNT_CACHE_SECONDS = env.int("API_COUNT_CACHE_SECONDS", default=30)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cartportal.api.auth.PartnerTokenAuthentication",
        "cartportal.api.auth.PortalSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "cartportal.api.auth.TokenScopePermission",
    ],
    "DEFAULT_PAGINATION_CLASS": "cartportal.api.auth.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "ORDERING_PARAM": "ordering",
    "DEFAULT_THROTTLE_CLASSES": ["cartportal.api.auth.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_TOKEN_RATE", default="600/min"),
        "user": env.str("API_USER_RATE", default="1200/min"),
        "anon": env.str("API_ANON_RATE", default="60/min"),
    },
    "EXCEPTION_HANDLER": "cartportal.api.base.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "cartportal.api.parsers.CheckedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "cartportal.api.auth.FallbackContentNegotiation",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "cartportal API",
    "DESCRIPTION": "Partner and portal API: regions, customers with risk and value, segments, campaigns, audit.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # no deep links: Swagger UI would put a link inside each operation's toggle button (a control in a control)
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "persistAuthorization": False, "displayOperationId": False},
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "state": each choice set gets its own readable name.
    "ENUM_NAME_OVERRIDES": {
        "CampaignStateEnum": "interventions.models.Campaign.State",
        "JobStateEnum": "cartportal.models.JobRun.State",
    },
}

# --- Product settings -----------------------------------------------------------------------------
CARTPORTAL_DATA_DIR = env.str("CARTPORTAL_DATA_DIR", default="")
CARTPORTAL_UPLOAD_DIR = env.str("CARTPORTAL_UPLOAD_DIR", default=str(Path(MEDIA_ROOT) / "imports"))
# Uploads: a request body above this size is refused with 413 before it is read; files above 2.5 MB stream to a
# temporary file on disk, not into memory. An upload is deleted when its import ends; a beat job deletes any older
# than the retention period whose import is not running (left behind by a crash).
CARTPORTAL_MAX_UPLOAD_BYTES = env.int("CARTPORTAL_MAX_UPLOAD_BYTES", default=100 * 2**20)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_HANDLERS = [
    "cartportal.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
CARTPORTAL_UPLOAD_RETENTION_HOURS = env.float("CARTPORTAL_UPLOAD_RETENTION_HOURS", default=24)
# Imports commit per chunk of this many rows. A running import whose heartbeat (one per chunk) stops for
# CARTPORTAL_IMPORT_STALL_SECONDS is re-queued by the watchdog to continue after its last committed chunk, at most
# CARTPORTAL_IMPORT_MAX_ATTEMPTS times, then ended as failed.
CARTPORTAL_IMPORT_CHUNK_ROWS = env.int("CARTPORTAL_IMPORT_CHUNK_ROWS", default=100_000)
CARTPORTAL_IMPORT_STALL_SECONDS = env.int("CARTPORTAL_IMPORT_STALL_SECONDS", default=120)
# A rescore whose job heartbeat (one per scored chunk) stops for this long has its undone chunks sent again.
CARTPORTAL_SCORING_STALL_SECONDS = env.int("CARTPORTAL_SCORING_STALL_SECONDS", default=120)
CARTPORTAL_IMPORT_MAX_ATTEMPTS = env.int("CARTPORTAL_IMPORT_MAX_ATTEMPTS", default=3)
CELERY_BEAT_SCHEDULE["ingest-imports-watchdog"] = {"task": "ingest.imports_watchdog", "schedule": crontab(minute="*")}
CELERY_BEAT_SCHEDULE["ingest-prune-uploads"] = {"task": "ingest.prune_uploads", "schedule": crontab(minute=20)}
# Portal rollups that computed faster than this are recomputed in the request when new data arrives; slower
# ones are served as they were and refreshed by a Celery task.
PORTAL_ROLLUP_SYNC_SECONDS = env.float("PORTAL_ROLLUP_SYNC_SECONDS", default=0.1)
CARTPORTAL_DORMANT_DAYS = env.int("CARTPORTAL_DORMANT_DAYS", default=90)
# Scoring runs kept per kind by the daily prune (older ones, and their scores, are deleted).
PREDICTIONS_KEEP_RUNS = env.int("PREDICTIONS_KEEP_RUNS", default=3)
# Segments: high value = net spend above this quantile of the region's buyers; frequent = at least N orders.
CARTPORTAL_SEGMENT_VALUE_QUANTILE = env.float("CARTPORTAL_SEGMENT_VALUE_QUANTILE", default=0.5)
CARTPORTAL_SEGMENT_FREQUENT_ORDERS = env.int("CARTPORTAL_SEGMENT_FREQUENT_ORDERS", default=2)
CARTPORTAL_SEGMENT_THRESHOLDS_BY_REGION = env.bool("CARTPORTAL_SEGMENT_THRESHOLDS_BY_REGION", default=True)
CARTPORTAL_PERSONA_MIN_ARI = env.float("CARTPORTAL_PERSONA_MIN_ARI", default=0.75)
CARTPORTAL_WEEKLY_PROMOTION_CAP = env.int("CARTPORTAL_WEEKLY_PROMOTION_CAP", default=3)
# Weekly promotions: the model predicts spend per category over this many days after the cut-off.
CARTPORTAL_PROMOTION_WINDOW_DAYS = env.int("CARTPORTAL_PROMOTION_WINDOW_DAYS", default=28)
# Fairness: a group is flagged when its offer rate differs from the overall rate by more than the tolerance
# (absolute: 0.1 = 10 percentage points) or its mean discount by more than the discount tolerance (0.02 = 2
# points); groups smaller than the minimum are not judged.
CARTPORTAL_FAIRNESS_TOLERANCE = env.float("CARTPORTAL_FAIRNESS_TOLERANCE", default=0.1)
CARTPORTAL_FAIRNESS_DISCOUNT_TOLERANCE = env.float("CARTPORTAL_FAIRNESS_DISCOUNT_TOLERANCE", default=0.02)
CARTPORTAL_FAIRNESS_MIN_GROUP = env.int("CARTPORTAL_FAIRNESS_MIN_GROUP", default=20)
# Campaigns: a customer gets at most CONTACT_CAP contacts (treated assignments of any campaign, weeks of
# promotions) in CONTACT_CAP_DAYS; assignment runs in batches, re-balancing the arms between batches; orders up to
# ATTRIBUTION_DAYS after an assignment are attributed to it.
CARTPORTAL_CONTACT_CAP = env.int("CARTPORTAL_CONTACT_CAP", default=CARTPORTAL_WEEKLY_PROMOTION_CAP)
CARTPORTAL_CONTACT_CAP_DAYS = env.int("CARTPORTAL_CONTACT_CAP_DAYS", default=7)
CARTPORTAL_ALLOCATION_BATCH = env.int("CARTPORTAL_ALLOCATION_BATCH", default=500)
CARTPORTAL_ATTRIBUTION_DAYS = env.int("CARTPORTAL_ATTRIBUTION_DAYS", default=7)
# Webhooks: request timeout (s), attempts before a dead letter, first retry delay (s, doubling), and a CA bundle
# to trust for partners' certificates (empty: the system's trust store).
CARTPORTAL_WEBHOOK_TIMEOUT = env.float("CARTPORTAL_WEBHOOK_TIMEOUT", default=5.0)
CARTPORTAL_WEBHOOK_MAX_ATTEMPTS = env.int("CARTPORTAL_WEBHOOK_MAX_ATTEMPTS", default=6)
CARTPORTAL_WEBHOOK_BACKOFF_SECONDS = env.float("CARTPORTAL_WEBHOOK_BACKOFF_SECONDS", default=30.0)
CARTPORTAL_WEBHOOK_CA_BUNDLE = env.str("CARTPORTAL_WEBHOOK_CA_BUNDLE", default="")
# Price response: the largest discount an intervention may give (the guardrail's limit), and the gross margin
# assumed for a product whose cost the catalogue does not carry (0.3 = 30 % of the price is margin).
CARTPORTAL_MAX_DISCOUNT_RATE = env.float("CARTPORTAL_MAX_DISCOUNT_RATE", default=0.3)
CARTPORTAL_GROSS_MARGIN = env.float("CARTPORTAL_GROSS_MARGIN", default=0.3)
# Win back: the page where a customer joins the shop's membership (the membership-discount message links to it; a
# campaign with that intervention refuses every customer while it is empty).
CARTPORTAL_MEMBERSHIP_URL = env.str("CARTPORTAL_MEMBERSHIP_URL", default="")
# Cart abandonment: a cart counts as bought when a purchase (or an order of its customer) follows its latest
# change within this many hours; carts changed within the last N days (of the shop's latest cart activity) are
# listed as open; cart lines with these SKUs (case-insensitive) are the cart's shipping cost, not items.
CARTPORTAL_ABANDONMENT_WINDOW_HOURS = env.int("CARTPORTAL_ABANDONMENT_WINDOW_HOURS", default=24)
CARTPORTAL_OPEN_CART_DAYS = env.int("CARTPORTAL_OPEN_CART_DAYS", default=7)
CARTPORTAL_SHIPPING_SKUS = env.list(
    "CARTPORTAL_SHIPPING_SKUS", default=["SHIPPING", "POST", "DOT", "POSTAGE", "DELIVERY", "FREIGHT"]
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}

# --- Audit anchors ----------------------------------------------------------------------------------------------
# The audit chain's head is appended to this file every CARTPORTAL_AUDIT_ANCHOR_SECONDS, and verify_audit checks
# the chain against every line (cartportal/audit/anchors.py). Keep it where the database's administrators cannot
# write; an empty value turns anchoring off.
CARTPORTAL_AUDIT_ANCHOR_FILE = env.str(
    "CARTPORTAL_AUDIT_ANCHOR_FILE",
    default=str(Path(env.str("CARTPORTAL_STATE_DIR", default=str(BASE_DIR / ".data"))) / "audit-anchors.jsonl"),
)
CARTPORTAL_AUDIT_ANCHOR_SECONDS = env.int("CARTPORTAL_AUDIT_ANCHOR_SECONDS", default=300)
CELERY_BEAT_SCHEDULE["audit-anchor"] = {
    "task": "cartportal.audit_anchor",
    "schedule": float(CARTPORTAL_AUDIT_ANCHOR_SECONDS),
    "args": (),
}

# --- Model artifacts ----------------------------------------------------------------------------------------------
# Key of the HMAC that signs every model artifact (checked before it is unpickled); empty: derived from SECRET_KEY.
# Changing it (or SECRET_KEY without it) makes every stored model refuse to load until models are retrained.
CARTPORTAL_ARTIFACT_KEY = env.str("CARTPORTAL_ARTIFACT_KEY", default="")

# --- Erasure -------------------------------------------------------------------------------------------------------
# Key of the hash under which an erased customer's shop id is remembered (so an import does not recreate them);
# empty: derived from SECRET_KEY. Set it before rotating SECRET_KEY, or erased customers could be imported again.
CARTPORTAL_ERASURE_KEY = env.str("CARTPORTAL_ERASURE_KEY", default="")

# --- Input limits and web hardening ---------------------------------------------------------------------
# Rules per audience: each is evaluated over the whole universe and listed with every audience of the region.
CARTPORTAL_AUDIENCE_MAX_RULES = env.int("CARTPORTAL_AUDIENCE_MAX_RULES", default=50)
# Four eyes: a campaign is approved by someone other than its author.
CARTPORTAL_FOUR_EYES = env.bool("CARTPORTAL_FOUR_EYES", default=True)
# A portal session ends after this many seconds without a request (0 = only the cookie's age ends it).
CARTPORTAL_SESSION_IDLE_SECONDS = env.int("CARTPORTAL_SESSION_IDLE_SECONDS", default=1800)
# Nesting depth allowed in a JSON body (deeper bodies answer 400 instead of exhausting the parser).
CARTPORTAL_MAX_JSON_DEPTH = env.int("CARTPORTAL_MAX_JSON_DEPTH", default=32)
# Sent on every page and API answer; the pages load scripts from static files only and pass data with json_script.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'",
)
# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one account, or from one address,
# logins are refused (429) for LOGIN_LOCKOUT_MINUTES (0 = until an administrator lifts it: lift_login_lockout).
AXES_ENABLED = env.bool("LOGIN_THROTTLING", default=True)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks: per account and per address
AXES_COOLOFF_TIME = (lambda minutes: dt.timedelta(minutes=minutes) if minutes else None)(
    env.int("LOGIN_LOCKOUT_MINUTES", default=60)
)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# --- Capacity: load shedding in front of Django (cartportal/capacity.py; gunicorn.conf.py sizes the threads) ---
# Requests one web process lets into Django at once; the others are answered 503 with Retry-After (after a short
# queue, below). /healthz and static files have slots of their own. One slot per process
# (and one process per core) by default: a page is mostly Python holding the interpreter lock, so a second request in
# the same process only slows both down (README, "Capacity and load shedding").
CARTPORTAL_WEB_SLOTS = env.int("CARTPORTAL_WEB_SLOTS", default=1)
CARTPORTAL_WEB_HEALTH_SLOTS = env.int("CARTPORTAL_WEB_HEALTH_SLOTS", default=2)
CARTPORTAL_WEB_STATIC_SLOTS = env.int("CARTPORTAL_WEB_STATIC_SLOTS", default=4)
# While the slot is busy, a request waits for it when its expected wait (the requests queued ahead of it times the
# recent service time) is under CARTPORTAL_WEB_SLOT_WAIT_SECONDS and fewer than CARTPORTAL_WEB_QUEUE wait already;
# it waits at most that long. Any other is answered 503 at once. A burst of quick requests thus queues briefly
# instead of being shed, and a slow page's overflow is shed at once.
CARTPORTAL_WEB_QUEUE = env.int("CARTPORTAL_WEB_QUEUE", default=16)
CARTPORTAL_WEB_SLOT_WAIT_SECONDS = env.float("CARTPORTAL_WEB_SLOT_WAIT_SECONDS", default=0.25)
# A request that already waited this long in the server's queue is answered 503 at once (its client has likely gone).
CARTPORTAL_WEB_MAX_QUEUE_SECONDS = env.float("CARTPORTAL_WEB_MAX_QUEUE_SECONDS", default=5.0)
CARTPORTAL_WEB_RETRY_AFTER_SECONDS = env.int("CARTPORTAL_WEB_RETRY_AFTER_SECONDS", default=2)
