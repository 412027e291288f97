"""Settings, read from the environment with django-environ.

The defaults serve `make run`: SQLite under var/, tasks run in-process, emails written as files
under var/mail/. Setting SECRET_KEY switches to production behaviour (DEBUG off unless asked for),
and production refuses to start with a weak key.
"""

import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_flag(name: str, *, default: bool) -> bool:
    """A true/false setting; anything but a known spelling refuses to start (django-environ
    reads a typo such as `ture` as false, which would quietly turn a protection off)."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no, on/off), not {raw!r}.")


def env_number(name: str, *, default: int, minimum: int = 0) -> int:
    """A whole number of at least `minimum`: a zero e-mail time-out or number of tries, say,
    would fail every email rather than refuse to start."""
    raw = env.str(name, default=None)
    try:
        value = default if raw is None else int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


def env_seconds(name: str, *, default: float, minimum: float) -> float:
    """A number of seconds of at least `minimum`, fractions allowed. Read strictly: django-environ
    drops what isn't a digit, so `5m` would be 5 seconds and `1,000` one."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, not {raw!r}.") from None
    if not minimum <= value < float("inf"):
        raise ImproperlyConfigured(f"{name} must be at least {minimum:g} seconds, not {raw!r}.")
    return value


def env_rate(name: str, *, default: str) -> str:
    """A django-ratelimit rate (`5/h`, `10/15m`); a malformed one would fail every request it
    limits, so it refuses to start instead."""
    rate = env.str(name, default=default)
    if not re.fullmatch(r"\d+/([1-9]\d*)?[smhd]", rate):
        raise ImproperlyConfigured(f"{name} must be a rate such as 5/h or 10/15m, not {rate!r}.")
    return rate


# --- Core -------------------------------------------------------------------------------------

# Checks a setting below says are answered otherwise (each where it is decided).
SILENCED_SYSTEM_CHECKS: list[str] = []

SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env_flag("DEBUG", default=not SECRET_KEY)
DEFAULT_EXCEPTION_REPORTER = "selfsignup.logs.ExceptionReporter"

_DEV_SECRET_KEY = "django-insecure-embedded-development-key-never-use-in-production"  # noqa: S105
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY
elif not DEBUG and (
    SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5
):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak for production: use at least 50 random characters."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    # Every page would answer 400 while the health check (answered before the host check) says
    # all is well.
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the site's host names when DEBUG is off.")
# The base of every link in emails: a default would send links that lead nowhere.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
if not DEBUG and not SITE_URL:
    raise ImproperlyConfigured(
        "SITE_URL must be set when DEBUG is off: it is the base of every link in emails."
    )
if urlsplit(SITE_URL).scheme not in ("http", "https") or not urlsplit(SITE_URL).hostname:
    raise ImproperlyConfigured(
        f"SITE_URL must be an http:// or https:// address, such as https://meetings.example.com "
        f"(got {SITE_URL!r})."
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    "selfsignup.admin.OperatorsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    # Only for its translations of country names (the sign-up form, the request page).
    "django_countries",
    "orgs",
    "sites",
    "signup",
    "alerts",
    "mail",
]

MIDDLEWARE = [
    "selfsignup.logs.RequestIdMiddleware",
    "selfsignup.health.HealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "selfsignup.locale.LocaleMiddleware",
    "selfsignup.slashes.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "selfsignup.bodies.LargeFormsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "selfsignup.urls"
CSRF_FAILURE_VIEW = "selfsignup.csrf.csrf_failure"
WSGI_APPLICATION = "selfsignup.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "libraries": {
                "display": "selfsignup.display_tags",
                "language": "selfsignup.language_tags",
            },
        },
    },
]

# --- Database ---------------------------------------------------------------------------------

_DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db("DATABASE_URL", default=_DEFAULT_DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # IMMEDIATE: a transaction takes the write lock when it begins, so two writers queue for
    # up to `timeout` seconds instead of one failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
else:
    # A database that doesn't answer fails a request (and /healthz) in seconds, not minutes.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
# Persistent connections: opening one per request costs most of a sign-up's time.
DATABASES["default"]["CONN_MAX_AGE"] = env_number("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts ---------------------------------------------------------------------------------

AUTH_USER_MODEL = "orgs.User"
LOGIN_URL = "hub:login"
LOGIN_REDIRECT_URL = "hub:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Languages --------------------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Redis: broker, cache ---------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
# The cache and Celery's broker both take it: Celery has no unix:// transport.
if REDIS_URL and urlsplit(REDIS_URL).scheme not in ("redis", "rediss"):
    raise ImproperlyConfigured("REDIS_URL must be a redis:// or rediss:// URL.")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "selfsignup",
            "OPTIONS": {
                # Redis answers in well under a millisecond: a Redis that accepts connections but
                # doesn't answer costs a sign-up (four cache calls) about a second, not four.
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
                # A cache outage must not take sign-up down: rate limits then fail open.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    # One process (make run): an in-memory cache is shared by everything that runs.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")

# --- Rate limits ------------------------------------------------------------------------------

RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = True
RATELIMIT_VIEW = "selfsignup.ratelimits.too_many"
RATELIMIT_IP_META_KEY = "selfsignup.net.client_ip"
# How many reverse proxies (load balancer, nginx...) stand in front of the app and append to
# X-Forwarded-For; 0 trusts only the connection's address.
TRUSTED_PROXIES = env_number("TRUSTED_PROXIES", default=0)
RATELIMIT_SIGNUP_PER_IP = env_rate("RATELIMIT_SIGNUP_PER_IP", default="600/h")
RATELIMIT_SIGNUP_PER_ADDRESS = env_rate("RATELIMIT_SIGNUP_PER_ADDRESS", default="5/h")
RATELIMIT_SIGNIN_PER_IP = env_rate("RATELIMIT_SIGNIN_PER_IP", default="30/5m")
RATELIMIT_SIGNIN_PER_ACCOUNT = env_rate("RATELIMIT_SIGNIN_PER_ACCOUNT", default="10/15m")
# When above 0, a sign-up form sent back faster than this (or without its signed start time) is
# taken for a script's and ignored. Off by default: browser autofill and assistive tools fill a
# form in well under a second, and a person whose sign-up is dropped is never told.
SIGNUP_MIN_FILL_SECONDS = env_seconds("SIGNUP_MIN_FILL_SECONDS", default=0.0, minimum=0)

# --- Email ------------------------------------------------------------------------------------

if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
    if EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":  # noqa: F821
        # The same SMTP backend, on connections that record when a message is handed over.
        EMAIL_BACKEND = "mail.transport.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=VAR_DIR / "mail")
EMAIL_TIMEOUT = env_number("EMAIL_TIMEOUT", default=10, minimum=1)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Meetings <no-reply@meetings.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# How many times an email is tried before it is marked failed, and the first retry delay. The
# delays double up to an hour: the defaults ride out a mail relay down for about three hours.
OUTBOX_MAX_ATTEMPTS = env_number("OUTBOX_MAX_ATTEMPTS", default=10, minimum=1)
OUTBOX_RETRY_BASE_SECONDS = env_number("OUTBOX_RETRY_BASE_SECONDS", default=30, minimum=1)
# A row in sending longer than this was left by a dead worker. It must be longer than a task
# may live (CELERY_TASK_TIME_LIMIT), or the sweep takes back a send still going on and the email
# goes twice; the fault tests' private stack alone sets less, to see a dead worker's row soon.
OUTBOX_SENDING_TIMEOUT_SECONDS = env_number(
    "OUTBOX_SENDING_TIMEOUT_SECONDS", default=300, minimum=1
)
# The sweeps take rows left waiting this long (a broker outage, a dead worker), this often.
OUTBOX_SWEEP_AFTER_SECONDS = env_number("OUTBOX_SWEEP_AFTER_SECONDS", default=60)
SUBMISSION_SWEEP_AFTER_SECONDS = env_number("SUBMISSION_SWEEP_AFTER_SECONDS", default=60)
# A rule run asked for by an administrator and not done within this is published again.
RULES_SWEEP_AFTER_SECONDS = env_number("RULES_SWEEP_AFTER_SECONDS", default=600)
# A wake-up whose run was lost (the broker lost the message) stops holding others back after this.
SUBMISSION_WAKE_TTL_SECONDS = env_number("SUBMISSION_WAKE_TTL_SECONDS", default=60, minimum=1)
SWEEP_INTERVAL_SECONDS = env_seconds("SWEEP_INTERVAL_SECONDS", default=60.0, minimum=1)

# --- Celery -----------------------------------------------------------------------------------

# Without REDIS_URL, tasks run in-process right after the transaction commits.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = env_flag("CELERY_TASK_EAGER_PROPAGATES", default=False)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="selfsignup")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through the LOGGING below (JSON lines with the request id), not Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A sign-up must answer quickly when the broker is down: fail the publish fast, the sweeps
# re-enqueue what was missed.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    # Above the consumers' 1 s polling wait, well under a request's patience.
    "socket_timeout": 2,
    "visibility_timeout": 3600,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Workers keep their database connection between tasks (Celery closes it after each task
# otherwise, whatever CONN_MAX_AGE says); stale or broken ones are dropped before each task.
CELERY_DB_REUSE_MAX = env_number("CELERY_DB_REUSE_MAX", default=1000, minimum=1)
# A sweep not started within its period is dropped: while the workers are down, beat would
# otherwise pile up a day's sweeps for them to run on their return.
_SWEEP = {"schedule": SWEEP_INTERVAL_SECONDS, "options": {"expires": SWEEP_INTERVAL_SECONDS}}
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "mail.tasks.outbox_sweep", **_SWEEP},
    "submissions-sweep": {"task": "signup.tasks.submissions_sweep", **_SWEEP},
    "rules-sweep": {"task": "alerts.tasks.rules_sweep", **_SWEEP},
    "purge-unconfirmed-requests": {
        "task": "signup.tasks.requests_purge_unconfirmed",
        "schedule": crontab(minute="*/15"),
    },
}

# --- Sign-up ----------------------------------------------------------------------------------

SIGNUP_CONFIRMATION_MAX_AGE = 24 * 3600
SIGNUP_ACTIVATION_MAX_AGE = 7 * 24 * 3600
# A repeated sign-up re-sends its email at most once in this many seconds.
SIGNUP_RESEND_INTERVAL = env_number("SIGNUP_RESEND_INTERVAL", default=300)

# --- Security ---------------------------------------------------------------------------------

# No inline script or style anywhere in the product's pages. The operators' Django admin keeps
# its own inline code and is left out.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/django-admin/"],
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_number("SESSION_COOKIE_AGE", default=8 * 3600, minimum=60)
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", default=True)
    if not SECURE_SSL_REDIRECT:
        # Turned off on purpose: the proxy in front redirects to HTTPS (README, Configuration).
        SILENCED_SYSTEM_CHECKS.append("security.W008")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_number("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging ----------------------------------------------------------------------------------

# JSON lines in production (LOG_FORMAT=json), readable lines in development; both carry the
# request id (X-Request-ID), which also follows a request into the tasks it enqueued.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").strip().upper()
if LOG_LEVEL not in logging.getLevelNamesMapping():  # WARN and FATAL included, as logging reads
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {LOG_LEVEL!r}."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "selfsignup.logs.RequestIdFilter"},
        "link_tokens": {"()": "selfsignup.logs.LinkTokenFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "selfsignup.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "link_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers (its console one with DEBUG on) would write unfiltered lines:
        # its records go to the root's handler like everyone's.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
        # The development server's request lines (`make run`) go through the same filters.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
