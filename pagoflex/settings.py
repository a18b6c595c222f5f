"""Pagoflex settings, read from the environment with django-environ.

With no environment at all the project runs in development mode on SQLite with a
development encryption key. With ``DEBUG=False`` it refuses to start unless the
secrets it needs are set, and says which variable is missing.
"""

import math
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

DEBUG = env.bool("DEBUG", default=True)

# Development defaults. They are public on purpose: production must override them.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
# key id "dev1", 32 zero-free bytes, base64. Never valid in production (see the check below).
_DEV_KEYRING = "dev1:ZGV2LW9ubHktcGFnb2ZsZXgta2V5LTMyLWJ5dGVzISE="

SECRET_KEY = env.str("SECRET_KEY", default="")
PAGOFLEX_KEYRING = env.str("PAGOFLEX_KEYRING", default="")
if not DEBUG:
    for name, value in (("SECRET_KEY", SECRET_KEY), ("PAGOFLEX_KEYRING", PAGOFLEX_KEYRING)):
        if not value:
            raise ImproperlyConfigured(f"{name} must be set when DEBUG=False")
    if PAGOFLEX_KEYRING == _DEV_KEYRING or SECRET_KEY == _DEV_SECRET_KEY:
        raise ImproperlyConfigured("the development SECRET_KEY/PAGOFLEX_KEYRING cannot be used with DEBUG=False")
SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY
PAGOFLEX_KEYRING = PAGOFLEX_KEYRING or _DEV_KEYRING
try:  # a malformed keyring is found at start-up, not at the first payment
    from connectors.crypto import Keyring, KeyringError

    Keyring.parse(PAGOFLEX_KEYRING)
except KeyringError as exc:
    raise ImproperlyConfigured(f"PAGOFLEX_KEYRING is invalid: {exc}") from None

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS. Safe production defaults when DEBUG=False (`manage.py check --deploy` passes clean, CI runs
# it); each can be set from the environment (docs/security.md). Behind a proxy that terminates TLS,
# set SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO (only if the proxy overwrites that header),
# or SECURE_SSL_REDIRECT=False if the proxy redirects itself.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = env.list("SECURE_REDIRECT_EXEMPT", default=[])
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)  # a working day of staff
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "payments",
    "connectors",
    "webhooks",
]

MIDDLEWARE = [
    # First: health checks answer before host validation and the HTTPS redirect (pagoflex/health.py);
    # then every other request gets its id, its log line and its metrics.
    "pagoflex.health.HealthCheckMiddleware",
    "observability.request_ids.RequestIdMiddleware",
    # Sees every answer under /v1/, Django's own error pages included.
    "pagoflex.middleware.ApiErrorsAsJson",
    # A view that loses the database (a failover, a statement past its bound) answers 503, not 500.
    "pagoflex.middleware.DatabaseUnavailableAs503",
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the body or takes a database connection, so that a slow body never holds one.
    "pagoflex.middleware.ReadApiBodyFirst",
    # Before any view or form can put a NUL character from the URL or a form into a query.
    "pagoflex.middleware.RefuseNulCharacters",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pagoflex.urls"
WSGI_APPLICATION = "pagoflex.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (the runserver, the simulators' callbacks, tests) share the file. IMMEDIATE
    # takes the write lock at BEGIN, so a transaction that reads then writes waits for another
    # writer (up to the timeout) instead of failing with "database is locked" on the upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    # Tests on SQLite use a file per test process, not the in-memory database: its shared cache
    # fails at once ("table is locked") when a live server thread writes beside the test.
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound by the server, so psycopg prepares the statements a connection repeats
    # (after 5 runs) and PostgreSQL plans each shape once (docs/performance.md). Turn it off
    # behind a pooler in transaction mode (PgBouncer), where prepared statements do not follow.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "server_side_binding", env.bool("DATABASE_SERVER_SIDE_BINDING", default=True))
    # A bounded pool of connections per process (Django's native psycopg pool), shared by the
    # process's threads. Services give their connection back while they wait on a bank
    # (payments/services/connector_calls.py), so a thread waiting on a bank holds no connection
    # and a few connections serve many in-flight payments (docs/deployment.md). 0: no pool, one
    # connection per thread (the default outside the production server configuration).
    DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=0)
    if DATABASE_POOL_MAX_SIZE > 0:
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": min(env.int("DATABASE_POOL_MIN_SIZE", default=2), DATABASE_POOL_MAX_SIZE),
            "max_size": DATABASE_POOL_MAX_SIZE,
            # Seconds a request waits for a free connection before it is answered 503.
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not
    # Bounds, in seconds, on each statement and on each wait for a lock, set by PostgreSQL on every
    # connection (libpq's ``options``); 0: none, the default outside the web processes (Celery,
    # migrations, management commands). pagoflex/gunicorn.conf.py sets them for the web: there a
    # process runs one request at a time (REQUESTS_RUNNING_PER_PROCESS), so a query stuck behind
    # a migration's lock or a psql session would stop the whole process. Past a bound the request
    # is answered 503 ``service_unavailable`` and its transaction rolled back (payments.api.errors).
    def _seconds(name: str) -> float:
        """A bound in seconds: a plain number, 0 for none. Refused, not guessed: django-environ's
        float would read "500ms" as 500 s."""
        text = env.str(name, default="0").strip()
        try:
            seconds = float(text)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a number of seconds (0 for none), not {text!r}") from None
        if not 0 <= seconds <= 3600:  # also refuses nan and inf
            raise ImproperlyConfigured(f"{name} must be between 0 (none) and 3600 seconds, not {text!r}")
        return seconds

    DATABASE_STATEMENT_TIMEOUT = _seconds("DATABASE_STATEMENT_TIMEOUT")
    DATABASE_LOCK_TIMEOUT = _seconds("DATABASE_LOCK_TIMEOUT")
    _bounds = [f"-c {name}={math.ceil(seconds * 1000)}" for name, seconds in
               (("statement_timeout", DATABASE_STATEMENT_TIMEOUT), ("lock_timeout", DATABASE_LOCK_TIMEOUT))
               if seconds > 0]
    if _bounds:
        _options = DATABASES["default"]["OPTIONS"]
        _options["options"] = " ".join([_options.get("options", ""), *_bounds]).strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# Public base URL of this Pagoflex, used to build the URLs handed to banks (webhooks, returns).
PAGOFLEX_PUBLIC_URL = env.str("PAGOFLEX_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")

# Connector HTTP: connect and read timeouts in seconds. No automatic retry of payment calls.
CONNECTOR_CONNECT_TIMEOUT = env.float("CONNECTOR_CONNECT_TIMEOUT", default=5.0)
CONNECTOR_READ_TIMEOUT = env.float("CONNECTOR_READ_TIMEOUT", default=30.0)
# Per-connector base URL overrides from the environment, e.g. CONNECTOR_BASE_URL_SANDBOX.
CONNECTOR_BASE_URLS = {
    key.removeprefix("CONNECTOR_BASE_URL_").lower(): value
    for key, value in env.ENVIRON.items()
    if key.startswith("CONNECTOR_BASE_URL_")
}

REDIS_URL = env.str("REDIS_URL", default="")

REDIS_CACHE_OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
# The shared cache (API rate-limit counters): Redis when there is one; otherwise files under
# var/cache, which every worker process on the machine shares without a server.
if REDIS_URL:
    # A Redis that is up but stuck must not hold API requests: each call gives up after a second
    # (redis-py waits forever by default), and the rate limit then lets the request through.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": REDIS_CACHE_OPTIONS}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(BASE_DIR / "var" / "cache")}}
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default="pagoflex")

# Background jobs run on Celery (pagoflex/celery.py). Redis in production and CI; with no
# CELERY_BROKER_URL (`make run`) kombu's filesystem transport under var/celery, so a real worker
# and beat run with no server to install.
CELERY_DATA_DIR = BASE_DIR / "var" / "celery"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "filesystem://"
REDIS_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 2.0}  # see below
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DATA_DIR / "queue"),
        "data_folder_out": str(CELERY_DATA_DIR / "queue"),
        "control_folder": str(CELERY_DATA_DIR / "control"),
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport waits forever on a Redis that accepts connections and never answers:
    # a request publishing a task (payments/enqueue.py) would hold its slot. With these, a publish
    # gives up after about four times socket_timeout (redis-py tries a command again three times),
    # and payments/enqueue.py then leaves the broker alone for a while. Above kombu's BRPOP poll
    # (1 s), which a worker's idle wait must outlast.
    CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_BROKER_TRANSPORT_OPTIONS
# Several Pagoflex installs (or test runs) may share one Redis: each consumes its own queue.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="pagoflex")
# A task is acknowledged when it ends, and redelivered if its worker dies: every task is safe to
# run again (the sweeps' claims and the outbox make repeats harmless).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Well under the sweeps' claim lease (payments/services/sweeps.py), so a claimed item is never
# worked on by two tasks at once.
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 150
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Sweeps: items claimed per batch; how long a payment may wait for the customer (3-D Secure,
# UPI collect) before it expires; how long Idempotency-Key answers are kept.
SWEEP_BATCH_SIZE = env.int("SWEEP_BATCH_SIZE", default=500)
PAYMENT_CUSTOMER_ACTION_TTL = env.int("PAYMENT_CUSTOMER_ACTION_TTL", default=3600)
IDEMPOTENCY_RETENTION_HOURS = env.int("IDEMPOTENCY_RETENTION_HOURS", default=24)
# Seconds a payment or refund may stay without the bank's answer before it is escalated to staff
# and the merchant (payments/services/unresolved.py); syncing goes on after that.
UNRESOLVED_ESCALATE_AFTER = env.int("UNRESOLVED_ESCALATE_AFTER", default=24 * 3600)
# A request still "in progress" after this long died with its worker (no request lives that long:
# a few connector calls, each bounded by the timeouts above); its retry then resumes or redoes it.
IDEMPOTENCY_STALE_AFTER_SECONDS = env.int("IDEMPOTENCY_STALE_AFTER_SECONDS", default=600)
# The key of the Idempotency-Key request fingerprints (an HMAC: the requests may hold card
# numbers). Its own variable so SECRET_KEY can be rotated without turning every retry in the
# retention window into "idempotency_key_reused"; SECRET_KEY when unset.
IDEMPOTENCY_FINGERPRINT_KEY = env.str("IDEMPOTENCY_FINGERPRINT_KEY", default="") or SECRET_KEY

# Webhooks to merchants: a delivery must answer 2xx within this many seconds.
WEBHOOK_DELIVERY_TIMEOUT = env.float("WEBHOOK_DELIVERY_TIMEOUT", default=10.0)
# Posts to an inbound webhook URL that no connector account owns: at most this many summaries
# (no body) are stored a minute, across all workers; the rest are answered 404 and not stored.
WEBHOOK_UNKNOWN_EVENTS_PER_MINUTE = env.int("WEBHOOK_UNKNOWN_EVENTS_PER_MINUTE", default=60)
# Endpoints on loopback or private addresses, and plain http, are for development only.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=DEBUG)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["payments.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["payments.api.permissions.IsMerchant"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["payments.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "payments.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # No OPTIONS self-description: the schema at /v1/schema/ describes the API, and DRF's
    # metadata probe crashed (500) on views without a queryset. OPTIONS answers 405.
    "DEFAULT_METADATA_CLASS": None,
    # Requests per API key, e.g. "100/s", "6000/min" (answered 429 with Retry-After beyond it).
    "DEFAULT_THROTTLE_CLASSES": ["payments.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE_LIMIT", default="100/s")},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Pagoflex API",
    "DESCRIPTION": "Payment orchestration: payments, refunds and connectors over one REST API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/v1",
    # Swagger UI served from the installed package, not a CDN: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for the payment method types wherever they appear (no W001 in check --deploy).
    "ENUM_NAME_OVERRIDES": {"PaymentMethodTypeEnum": "payments.statuses.PaymentMethodType"},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "payments.api.errors.describe_rules_beyond_the_schema",
                             "payments.api.routing_serializers.describe_routing_input"],
}

# Largest request body accepted by the API and webhook endpoints.
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

# Error reports (the DEBUG page, mails to ADMINS) never show credentials, secrets or card numbers,
# DEBUG or not (pagoflex/debug.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "pagoflex.debug.CredentialsExceptionReporterFilter"

# Logs: one JSON object a line in production (LOG_FORMAT=json, the default with DEBUG=False),
# readable lines in development; every record carries the request id (observability/request_ids.py).
# Card numbers and declared connector secrets are masked in every line, whatever logged them
# (connectors.masking.MaskingFormatter wraps each formatter).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "observability.request_ids.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"()": "connectors.masking.MaskingFormatter",
                  "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "connectors.masking.MaskingFormatter",
            "wrapped": "pythonjsonlogger.json.JsonFormatter",
            "wrapped_options": {
                "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                # ISO 8601 in UTC with its offset ("2026-11-30T03:40:00.123456+00:00"), not the
                # host's local time without a zone.
                "timestamp": "time",
            },
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # One line per request from observability's middleware; runserver's own would repeat it.
        "django.server": {"level": "WARNING"},
    },
}

# /metrics (pagoflex/metrics.py): a scrape sends "Authorization: Bearer <METRICS_TOKEN>". With no
# token it is served in development only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
