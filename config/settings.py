"""Tocsin settings: one module, everything that varies comes from the environment.

`.env` is read when present; `.env.example` documents every variable.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
# Without a key, commands that serve nothing (makemigrations, shell) still run, on a throwaway
# key; serving refuses to start (config/wsgi.py, config/asgi.py) and `check --deploy` fails.
TOCSIN_SECRET_KEY_MISSING = not SECRET_KEY and not DEBUG
if not SECRET_KEY:
    SECRET_KEY = (
        "django-insecure-local-development-only-key-do-not-use-in-production"
        if DEBUG
        else "unset-" + __import__("secrets").token_urlsafe(50)
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
# `make run` serves on TOCSIN_PORT; links point there unless TOCSIN_BASE_URL says otherwise.
TOCSIN_PORT = env.int("TOCSIN_PORT", default=8000)
TOCSIN_BASE_URL = env.str("TOCSIN_BASE_URL", default=f"http://127.0.0.1:{TOCSIN_PORT}").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[TOCSIN_BASE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "axes",
    "incidents",
    "runbooks",
    "postmortems",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "incidents.api.common.bodies.ChunkedBodyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "incidents.admin.guards.AdminQueryGuardMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
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
                "incidents.statuspage.context.status_page",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web app, a worker and beat share the file in `make run` (and the live-server and
    # real-worker tests share the test file): WAL lets readers and the writer overlap, IMMEDIATE
    # transactions take the write lock up front instead of failing late, and a writer waits up
    # to `timeout` seconds for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, static -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# Every date-time Django renders carries its zone, in the format incidents.core.formatting uses.
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
LOGIN_URL = "admin:login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses sign-ins from a locked-out address
    "django.contrib.auth.backends.ModelBackend",
]

# --- Email --------------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tocsin <tocsin@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# A mail server that accepts the connection and then says nothing must not hold a request or a
# delivery worker for the operating system's TCP timeout.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# --- Security -----------------------------------------------------------------------------------
# DEBUG only switches what serving plain HTTP on loopback needs; each is overridable.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=True) else None
)
# Health probes come from load balancers over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every page: scripts, styles, images and fonts from this site only;
# an inline script needs the request's nonce (`request.csp_nonce`). Inline style attributes
# (severity colours, on-call bars) are allowed; no frames, plugins or foreign form targets.
# Markdown images from the hosts in TOCSIN_MARKDOWN_IMAGE_HOSTS are allowed too.
TOCSIN_MARKDOWN_IMAGE_HOSTS = env.list("TOCSIN_MARKDOWN_IMAGE_HOSTS", default=[])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", *(f"https://{host}" for host in TOCSIN_MARKDOWN_IMAGE_HOSTS)],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Failed sign-ins (admin logins and API tokens) are throttled per client address, never per
# username: after TOCSIN_LOGIN_FAILURE_LIMIT failures, the address waits the cool-off (429).
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_FAILURE_LIMIT = env.int("TOCSIN_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("TOCSIN_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_CALLABLE = "incidents.core.throttle.lockout_response"
AXES_RESET_ON_SUCCESS = False
# Behind N reverse proxies, the client address is the Nth from the right of X-Forwarded-For.
AXES_IPWARE_PROXY_COUNT = env.int("TOCSIN_PROXY_COUNT", default=0)
if AXES_IPWARE_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
# A saved secret is shown once in a message: keep messages server-side, not in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
# Outgoing webhooks never reach link-local or cloud-metadata addresses; private and loopback ones
# only when listed here (CIDRs or exact host names), e.g. a chat server on the LAN.
TOCSIN_OUTBOUND_ALLOWED_NETWORKS = env.list("TOCSIN_OUTBOUND_ALLOWED_NETWORKS", default=[])

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "incidents.core.throttle.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["incidents.api.permissions.ModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "incidents.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "incidents.api.common.errors.exception_handler",
    # JSON in and out: form encodings cannot carry the nested rotations and steps,
    # so they are neither accepted nor documented.
    "DEFAULT_PARSER_CLASSES": ["incidents.api.common.bodies.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Largest REST API body (413 past it); ingestion has its own, TOCSIN_INGEST_MAX_BODY_BYTES.
TOCSIN_API_MAX_BODY_BYTES = env.int("TOCSIN_API_MAX_BODY_BYTES", default=1024 * 1024)
REST_KNOX = {
    # API tokens are for scripts and infrastructure-as-code: they live until revoked.
    "TOKEN_TTL": None,
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tocsin API",
    "DESCRIPTION": "Incidents, alerts, on-call and post-mortems. Authenticate with "
    "`Authorization: Token <key>` (create one with `manage.py create_api_token USERNAME`).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI is served from our own static files (drf-spectacular-sidecar, pinned by its
    # version), so /api/docs/ works without reaching a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status`; give each choice set its own schema name.
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.core.choices.IncidentStatus",
        "UpdateStatusEnum": "incidents.core.choices.UpdateStatus",
        "AlertStatusEnum": "incidents.models.alert.AlertStatus",
        "NotificationStatusEnum": "incidents.models.notify.NotificationStatus",
        "PostmortemStatusEnum": "postmortems.choices.PostmortemStatus",
        "ActionItemStatusEnum": "postmortems.choices.ActionStatus",
        "ActionItemPriorityEnum": "postmortems.choices.ActionPriority",
        "IntegrationKindEnum": "incidents.models.alert.IntegrationKind",
        "ContactKindEnum": "incidents.core.choices.ContactKind",
    },
}

# --- Celery -------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")
CELERY_FILESYSTEM_BROKER_DIR = Path(
    env.str("TOCSIN_BROKER_DIR", default=str(BASE_DIR / "var" / "broker"))
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded default: a broker that needs no server, for `make run` on a fresh machine.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_FILESYSTEM_BROKER_DIR / "control"),
        "store_processed": False,
        # Polled, not pushed: a page crosses the broker twice (escalation, then delivery).
        "polling_interval": 0.2,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / "var" / "celerybeat-schedule")
# Publishing must never hang a web request: fail fast, the database sweep catches up.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}

# --- Tocsin -------------------------------------------------------------------------------------
TOCSIN_TIMER_SWEEP_SECONDS = env.float("TOCSIN_TIMER_SWEEP_SECONDS", default=5.0)
TOCSIN_HANDOFF_SWEEP_SECONDS = env.float("TOCSIN_HANDOFF_SWEEP_SECONDS", default=15.0)
TOCSIN_INGEST_MAX_BODY_BYTES = 512 * 1024
# The ingest inbox (docs/ingestion.md): accepted requests are committed to it before their 202.
# "worker": ingest workers (`manage.py ingest_worker`) apply them; "request": each request
# applies its own row before answering (the SQLite default: one writer anyway).
TOCSIN_INGEST_APPLY = env.str(
    "TOCSIN_INGEST_APPLY",
    default="request" if DATABASES["default"]["ENGINE"].endswith("sqlite3") else "worker",
)
if TOCSIN_INGEST_APPLY not in ("worker", "request"):
    raise ImproperlyConfigured('TOCSIN_INGEST_APPLY must be "worker" or "request".')
# One batch: at most this many rows, and this many events (a larger row goes alone).
TOCSIN_INBOX_BATCH_ROWS = env.int("TOCSIN_INBOX_BATCH_ROWS", default=200)
TOCSIN_INBOX_BATCH_EVENTS = env.int("TOCSIN_INBOX_BATCH_EVENTS", default=2000)
# An idle ingest worker looks again this often (PostgreSQL's NOTIFY wakes it at once anyway).
TOCSIN_INBOX_POLL_SECONDS = env.float("TOCSIN_INBOX_POLL_SECONDS", default=1.0)
# Applied rows are kept this long, for Opsgenie's request status.
TOCSIN_INBOX_KEEP_HOURS = env.float("TOCSIN_INBOX_KEEP_HOURS", default=24)
# /health/ingest answers 503 once the oldest unapplied event is older than this.
TOCSIN_INGEST_BACKLOG_SECONDS = env.float("TOCSIN_INGEST_BACKLOG_SECONDS", default=30)
# The server guard (docs/ingestion.md): every ingestion request is answered 429 while the
# inbox's oldest untried pending row is older than this, or more rows than this are pending.
TOCSIN_INGEST_GUARD_SECONDS = env.float("TOCSIN_INGEST_GUARD_SECONDS", default=120)
TOCSIN_INGEST_GUARD_DEPTH = env.int("TOCSIN_INGEST_GUARD_DEPTH", default=200_000)
# How often a web process re-reads the inbox for the guard and for the other processes'
# requests against each integration's rate limit (its token bucket is per process).
TOCSIN_INGEST_LIMIT_REFRESH_SECONDS = env.float("TOCSIN_INGEST_LIMIT_REFRESH_SECONDS", default=1.0)
# An integration's token is looked up once per web process for this long: a rotated or
# disabled token stops working within it.
TOCSIN_INGEST_AUTH_CACHE_SECONDS = env.float("TOCSIN_INGEST_AUTH_CACHE_SECONDS", default=5)
# Paging delivery: attempts per notification, exponential backoff (base doubling up to a cap)
# and the webhook timeout.
TOCSIN_NOTIFY_MAX_ATTEMPTS = env.int("TOCSIN_NOTIFY_MAX_ATTEMPTS", default=6)
TOCSIN_NOTIFY_RETRY_SECONDS = env.int("TOCSIN_NOTIFY_RETRY_SECONDS", default=15)
TOCSIN_NOTIFY_RETRY_MAX_SECONDS = env.int("TOCSIN_NOTIFY_RETRY_MAX_SECONDS", default=600)
TOCSIN_WEBHOOK_TIMEOUT_SECONDS = env.float("TOCSIN_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
# The outbox (docs/delivery.md): one send's total deadline (connect, read and body together),
# how long a worker's claim on a row lasts before the sweep takes it back (it died mid-send), and
# the Standard Webhooks signing secret ("whsec_" + base64; empty: derived from SECRET_KEY).
TOCSIN_SEND_DEADLINE_SECONDS = env.float("TOCSIN_SEND_DEADLINE_SECONDS", default=10.0)
TOCSIN_DELIVERY_LEASE_SECONDS = env.float("TOCSIN_DELIVERY_LEASE_SECONDS", default=60.0)
TOCSIN_WEBHOOK_SIGNING_SECRET = env.str("TOCSIN_WEBHOOK_SIGNING_SECRET", default="")

# Acting from where the page arrives (docs/paging.md): signed action links expire when the
# incident resolves or after this long; Slack requests are verified with its app's signing
# secret, Mattermost slash commands by their tokens (comma-separated).
TOCSIN_ACTION_LINK_MAX_AGE_SECONDS = env.int(
    "TOCSIN_ACTION_LINK_MAX_AGE_SECONDS", default=24 * 3600
)
SLACK_SIGNING_SECRET = env.str("SLACK_SIGNING_SECRET", default="")
MATTERMOST_TOKENS = env.list("MATTERMOST_TOKENS", default=[])
# The public status page: its heading, and how long a rendered page is reused.
TOCSIN_STATUS_TITLE = env.str("TOCSIN_STATUS_TITLE", default="System status")
TOCSIN_STATUS_CACHE_SECONDS = env.int("TOCSIN_STATUS_CACHE_SECONDS", default=5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# The incident lists are the product: keep sessions for a working day.
SESSION_COOKIE_AGE = int(timedelta(hours=12).total_seconds())
