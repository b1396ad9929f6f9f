"""Settings for the auto-debit back office.

Every value comes from the environment through one ``environ.Env``. The
defaults are for a developer's machine only: with ``DEBUG`` off the process
refuses to start unless the secrets are set.
"""

from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from backoffice.logging_config import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

_DEV_ONLY = "insecure-development-only-"


def _secret(name: str) -> str:
    """A secret that production must provide; development gets a marked placeholder."""
    value = env.str(name, default="")
    if value:
        if not DEBUG and value.startswith(_DEV_ONLY):
            raise ImproperlyConfigured(f"{name} still holds the development placeholder")
        return value
    if not DEBUG:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")
    return f"{_DEV_ONLY}{name.lower()}"


SECRET_KEY = _secret("SECRET_KEY")
# Server-side pepper for card passwords: an HMAC under it is what argon2 hashes,
# so a stolen database alone cannot brute-force 6-digit passwords offline.
CARD_PIN_PEPPER = _secret("CARD_PIN_PEPPER")
# Key for the fingerprints that let staff look up a card or national id without
# the database ever holding the full value.
PII_FINGERPRINT_KEY = _secret("PII_FINGERPRINT_KEY")


def _otp_encryption_keys() -> list[str]:
    """Fernet keys for second-factor secrets: the first encrypts, all decrypt (rotation)."""
    from cryptography.fernet import Fernet

    keys = env.list("OTP_ENCRYPTION_KEYS", default=[])
    if not keys:
        if not DEBUG:
            raise ImproperlyConfigured("OTP_ENCRYPTION_KEYS must be set when DEBUG is off")
        # Development only: derived from the development SECRET_KEY, never used in production.
        from accounts.otp_encryption import development_key

        return [development_key(SECRET_KEY)]
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError as error:
            raise ImproperlyConfigured(
                f"OTP_ENCRYPTION_KEYS entry {number} is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from error
    return keys


# Encrypts TOTP keys and keys the backup-code digests (accounts.otp_encryption).
OTP_ENCRYPTION_KEYS = _otp_encryption_keys()

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # django.contrib.admin whose admin.site requires a verified second factor.
    "backoffice.admin_apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_filters",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "accounts",
    "debits",
    "backoffice",
    # The simulated payment network (development, tests, demo): after the domain
    # apps, which never import it.
    "simulator",
    # Demo book, load seeding and demo staff (seed_demo, create_demo_staff); not the domain.
    "demo",
    "backoffice.complaints",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "backoffice.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's language (Accept-Language, or the language cookie) for every page;
    # StaffLanguageMiddleware below puts a signed-in staff member's own choice over it.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "backoffice.language.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Idle and absolute session limits; unverified sessions reach only the code step.
    "backoffice.signin.session.StaffSessionMiddleware",
    # A superuser exists only under a live break-glass grant; each request is audited.
    "backoffice.break_glass.BreakGlassMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "backoffice.urls"
WSGI_APPLICATION = "backoffice.wsgi.application"

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
            # Every workspace template translates and shows amounts, times and codes
            # the same way, without a {% load %} line to forget.
            "builtins": [
                "django.templatetags.i18n",
                "backoffice.templatetags.workspace",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'backoffice.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process, a worker and beat share one SQLite file: WAL lets readers
    # run beside a writer, IMMEDIATE takes the write lock up front so two writers
    # queue on the busy timeout instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # Short OLTP statements only: JIT compiles any whose estimate passes 100,000 (a
    # chunk's history read on a table not analysed since it grew), 130 ms for nothing.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Staff authentication --------------------------------------------------
AUTH_USER_MODEL = "accounts.StaffUser"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Argon2id first: parameters are set in accounts.hashers to OWASP's minimum or above.
PASSWORD_HASHERS = [
    "accounts.hashers.StaffArgon2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after 30 minutes idle: the session's stored expiry and its last-seen
# time move when StaffSessionMiddleware writes that time, at most once a minute, not on
# every request (which saved the session on every page)...
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = False
# ...and after 12 hours in all, however active (enforced by middleware).
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=12 * 60 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# django-axes: lock the account+source pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Failures are cleared after the second factor passes, not after the password
# alone (see backoffice.signin.views), so a known password buys no extra code guesses.
AXES_RESET_ON_SUCCESS = False
AXES_SENSITIVE_PARAMETERS = ["password", "otp_token", "token"]
AXES_VERBOSE = False
# Name shown in authenticator apps next to the staff member's username.
OTP_TOTP_ISSUER = "Car-loan back office"
# The page django-axes answers a locked-out login with (HTTP 429).
AXES_LOCKOUT_TEMPLATE = "backoffice/signin/locked_out.html"

# --- Internationalisation ---------------------------------------------------
# Simplified Chinese first: the language of a browser that asks for neither, and of
# a new staff member (accounts.StaffUser.language). Catalogues live in locale/ and
# are compiled by scripts/setup (manage.py compilemessages).
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One date and time format per language (backoffice/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["backoffice.formats"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# A year: the language switch is a preference, not a session detail.
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_HTTPONLY = True

# --- Static files -----------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request without it
STATICFILES_DIRS = [BASE_DIR / "backoffice" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security headers (production values whenever DEBUG is off) --------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# --- Celery ------------------------------------------------------------------
# Default broker: kombu's filesystem transport under var/, so a worker and beat
# run on one machine with no broker server. Set CELERY_BROKER_URL=redis://... at scale.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        # Broadcast (remote control) messages; kombu's default is ./control.
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
else:
    # Longer than the longest task (CELERY_TASK_TIME_LIMIT, 10 min) and the longest
    # retry countdown (RESYNC_RETRY_MAX_DELAY_SECONDS, 5 min) together: Redis hands an
    # unacknowledged message to another worker after this, so a shorter one would
    # start a second delivery while the first still runs (harmless, tasks are
    # idempotent, but wasted work at month-end).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 60 * 60)
    }
# Tests and the one-process demo run tasks inline; never in production.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# JSON only: a message can carry ids and plain values, never a pickled object.
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Results live in the database rows the tasks write; a result backend would be unread.
CELERY_TASK_IGNORE_RESULT = True
# Acknowledge after the task ran: a worker that dies mid-chunk leaves the message
# for another (at-least-once; the database makes a second delivery harmless).
CELERY_TASK_ACKS_LATE = True
# A worker process killed by the OOM killer or SIGKILL puts its message back too,
# instead of acknowledging a task that never finished.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Celery closes every database connection after every task unless this is set: a
# connect and a fresh server process (its catalogue caches cold) per 500-instalment
# chunk. Set, Celery closes them only every 2,000 tasks; backoffice.celery closes any
# a task left mid-statement, in a transaction or past CONN_MAX_AGE after each task.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# One message per worker process at a time: a chunk takes up to seconds, and
# prefetched chunks would wait behind it in one process while another sits idle
# (and re-sync workers must never hold a queued change behind a slow one).
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Hard limit: a chunk of 500 takes well under a minute even at 20 ms per batch
# call; ten minutes only stops a task that hangs. DEBIT_CHUNK_LEASE_SECONDS and
# DEBIT_SUBMITTED_STALE_AFTER_SECONDS are derived from it.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=10 * 60)
# A minute before the hard limit the task gets SoftTimeLimitExceeded and can stop
# between chunk stages (claimed attempts stay `submitted` for the janitor).
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=9 * 60)
# On SIGTERM (a deploy), let a running chunk finish recording for up to this long
# before the cold shutdown: a chunk cut between present and record leaves its
# attempts `submitted` until the janitor's stale threshold (Celery >= 5.5).
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env.float("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", default=60.0)
# Anything not routed below: fees, reconciliation, operations sweeps.
CELERY_TASK_DEFAULT_QUEUE = "default"
# Re-sync is latency-sensitive (a customer just changed a password); debits are
# throughput work. Separate queues with a worker pool each (Procfile, README), so a
# million queued debit chunks never delay a re-sync.
CELERY_QUEUE_RESYNC = "resync"
CELERY_QUEUE_DEBITS = "debits"
CELERY_TASK_ROUTES = {
    # Exact names first: Celery tries them before the patterns.
    "debits.tasks.operations.resync_stale_mandates_task": {"queue": CELERY_QUEUE_RESYNC},
    "debits.tasks.resync.*": {"queue": CELERY_QUEUE_RESYNC},
    "debits.tasks.collection.*": {"queue": CELERY_QUEUE_DEBITS},
}
# Schedules are rows staff can edit in the admin, sent by whichever beat holds the
# PostgreSQL beat lock: start one per machine if you like, exactly one sends.
CELERY_BEAT_SCHEDULER = "backoffice.beat:SingleBeatScheduler"
# Beat fires on the bank's calendar (06:00 Asia/Shanghai), whatever the server's zone.
CELERY_TIMEZONE = TIME_ZONE
# The project's JSON logging stays in charge of the root logger in workers too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Cache (rate limits) -------------------------------------------------------
# Rate limits must be shared by every web process: Redis when there is one
# (REDIS_URL, else a redis:// broker URL), otherwise a table in the database
# (created by ``manage.py createcachetable``). Never per-process memory.
REDIS_URL = env.str(
    "REDIS_URL",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "backoffice",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "backoffice_cache",
        }
    }

# --- Product settings ---------------------------------------------------------
# Which payment gateway adapter debits talk to: the simulator or the HTTP client
# ("debits.gateways.http.HttpGateway"). The simulator's former path,
# "debits.gateways.simulator.SimulatorGateway", is still accepted.
PAYMENT_GATEWAY = env.str("PAYMENT_GATEWAY", default="simulator.gateway.SimulatorGateway")
PAYMENT_GATEWAY_URL = env.str("PAYMENT_GATEWAY_URL", default="")
PAYMENT_GATEWAY_TIMEOUT_SECONDS = env.float("PAYMENT_GATEWAY_TIMEOUT_SECONDS", default=10.0)
# Bearer token the HTTP gateway adapter presents (empty: no Authorization header).
PAYMENT_GATEWAY_API_KEY = env.str("PAYMENT_GATEWAY_API_KEY", default="")
# Simulated latency and faults; the demo and tests turn these up on purpose.
GATEWAY_SIMULATOR_LATENCY_MS = env.int("GATEWAY_SIMULATOR_LATENCY_MS", default=0)
# Added to a batch collect's latency per instruction it carries, as a network that
# debits each account in turn takes longer over a larger batch; the fault-injection
# run sets it so that its collection lasts as long as its faults on any machine.
GATEWAY_SIMULATOR_BATCH_ITEM_LATENCY_MS = env.float(
    "GATEWAY_SIMULATOR_BATCH_ITEM_LATENCY_MS", default=0.0
)
GATEWAY_SIMULATOR_SEED = env.int("GATEWAY_SIMULATOR_SEED", default=0)
# Share of simulated calls that fail on purpose (0 to 1), each decided from
# hash(seed, request key, presentation) so every process agrees on it.
GATEWAY_SIMULATOR_INSUFFICIENT_FUNDS_RATE = env.float(
    "GATEWAY_SIMULATOR_INSUFFICIENT_FUNDS_RATE", default=0.0
)
GATEWAY_SIMULATOR_TIMEOUT_RATE = env.float("GATEWAY_SIMULATOR_TIMEOUT_RATE", default=0.0)
GATEWAY_SIMULATOR_UNAVAILABLE_RATE = env.float("GATEWAY_SIMULATOR_UNAVAILABLE_RATE", default=0.0)
for _rate_name in (
    "GATEWAY_SIMULATOR_INSUFFICIENT_FUNDS_RATE",
    "GATEWAY_SIMULATOR_TIMEOUT_RATE",
    "GATEWAY_SIMULATOR_UNAVAILABLE_RATE",
):
    if not 0.0 <= globals()[_rate_name] <= 1.0:
        raise ImproperlyConfigured(f"{_rate_name} must be between 0 and 1")
# Off reproduces the original failure: a password change that never reaches the
# agreements, so the next collect fails as agreement_stale.
AUTO_RESYNC_ENABLED = env.bool("AUTO_RESYNC_ENABLED", default=True)
# How long an outbox event may stay unfinished before the sweeper re-dispatches it.
OUTBOX_REDISPATCH_AFTER_SECONDS = env.int("OUTBOX_REDISPATCH_AFTER_SECONDS", default=30)
# Re-sync retries on gateway errors: delay doubles from the base up to the cap
# (with jitter); when they run out the mandate is flagged and operations alerted.
RESYNC_MAX_RETRIES = env.int("RESYNC_MAX_RETRIES", default=8)
RESYNC_RETRY_BASE_DELAY_SECONDS = env.float("RESYNC_RETRY_BASE_DELAY_SECONDS", default=2.0)
RESYNC_RETRY_MAX_DELAY_SECONDS = env.float("RESYNC_RETRY_MAX_DELAY_SECONDS", default=300.0)
# Which task consumes each outbox event type, by name: accounts writes the events
# but must not import debits, whose task re-syncs the card's mandates.
OUTBOX_CONSUMER_TASKS = {
    "card.credential_changed": "debits.tasks.resync.consume_credential_change_task",
    "customer.notice": "accounts.tasks.send_customer_notice_task",
}
# Messages carry live reset links: in production they go to a real SMS/email
# gateway, never to a console or a file on the server (accounts.notification_settings).
NOTIFICATION_BACKEND = env.str(
    "NOTIFICATION_BACKEND",
    default="accounts.notifications.ConsoleNotificationBackend" if DEBUG else "",
)
# Only for a test deployment with DEBUG off that has no gateway: allows the console
# or file backend, which write live links where server operators can read them.
NOTIFICATION_ALLOW_LOCAL_BACKEND = env.bool("NOTIFICATION_ALLOW_LOCAL_BACKEND", default=False)
NOTIFICATION_FILE_DIR = env.path("NOTIFICATION_FILE_DIR", default=str(VAR_DIR / "notifications"))
# The SMS/email gateway of accounts.notifications.HttpNotificationBackend.
NOTIFICATION_GATEWAY_URL = env.str("NOTIFICATION_GATEWAY_URL", default="")
NOTIFICATION_GATEWAY_API_KEY = env.str("NOTIFICATION_GATEWAY_API_KEY", default="")
NOTIFICATION_GATEWAY_TIMEOUT_SECONDS = env.float(
    "NOTIFICATION_GATEWAY_TIMEOUT_SECONDS", default=10.0
)
PASSWORD_RESET_LINK_TTL_SECONDS = env.int("PASSWORD_RESET_LINK_TTL_SECONDS", default=15 * 60)
# Where customers open their reset links: must be https in production.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000" if DEBUG else "")
if not DEBUG:
    from accounts.notification_settings import check_production_notifications

    check_production_notifications(
        backend=NOTIFICATION_BACKEND,
        allow_local=NOTIFICATION_ALLOW_LOCAL_BACKEND,
        public_base_url=PUBLIC_BASE_URL,
        gateway_url=NOTIFICATION_GATEWAY_URL,
    )
CARD_PASSWORD_MAX_FAILURES = env.int("CARD_PASSWORD_MAX_FAILURES", default=5)

# --- Debit engine ---------------------------------------------------------------
# The payee every mandate must name; a debit under a mandate naming another is refused.
DEBIT_PAYEE_NAME = env.str("DEBIT_PAYEE_NAME", default="Car Finance Co., Ltd.")
# Days after each insufficient-funds failure before the next try (1st, 2nd, 3rd...).
DEBIT_RETRY_SCHEDULE_DAYS = env.list("DEBIT_RETRY_SCHEDULE_DAYS", cast=int, default=[1, 3, 7])
# Most collection tries per instalment for customer-side failures (insufficient funds).
DEBIT_MAX_ATTEMPTS = env.int("DEBIT_MAX_ATTEMPTS", default=4)
# First wait after a gateway outage, doubled per consecutive outage (capped at a day).
DEBIT_OUTAGE_BACKOFF_MINUTES = env.int("DEBIT_OUTAGE_BACKOFF_MINUTES", default=15)
# Gateway calls a chunk task keeps in flight at once (threads, each with its own
# database connection while the chunk runs).
DEBIT_GATEWAY_CONCURRENCY = env.int("DEBIT_GATEWAY_CONCURRENCY", default=16)
# Collection instructions per batch call to a gateway that takes batches
# (collect_batch); 0 presents one call per instalment through the pool above.
# A chunk is presented as one batch: at 20 ms a call, 500 per call is ~25,000/s
# of network time per process, far above what the database can record, and one
# batch per chunk keeps a lost call's damage to one chunk (all `unknown`).
DEBIT_GATEWAY_BATCH_SIZE = env.int("DEBIT_GATEWAY_BATCH_SIZE", default=500)
# A `submitted` attempt older than this belongs to a worker that died: longer than
# the task's hard time limit, so no worker can still be about to call the gateway.
DEBIT_SUBMITTED_STALE_AFTER_SECONDS = env.int(
    "DEBIT_SUBMITTED_STALE_AFTER_SECONDS", default=CELERY_TASK_TIME_LIMIT + 5 * 60
)
# An `unknown` attempt the gateway has still not seen after this long never reached
# it: the janitor fails it as not_received so that it is collected again.
DEBIT_UNKNOWN_NOT_RECEIVED_AFTER_SECONDS = env.int(
    "DEBIT_UNKNOWN_NOT_RECEIVED_AFTER_SECONDS", default=10 * 60
)
# Days after the due date before an unpaid instalment is overdue and accrues a fee.
LATE_FEE_GRACE_DAYS = env.int("LATE_FEE_GRACE_DAYS", default=3)
# The fee: a fixed amount plus a rate (fraction) of the amount outstanding.
LATE_FEE_AMOUNT = env.get_value(
    "LATE_FEE_AMOUNT", cast=Decimal, default="50.00", parse_default=True
)
LATE_FEE_RATE = env.get_value("LATE_FEE_RATE", cast=Decimal, default="0", parse_default=True)
# A staff waiver above this amount needs a supervisor's approval.
LATE_FEE_WAIVER_APPROVAL_THRESHOLD = env.get_value(
    "LATE_FEE_WAIVER_APPROVAL_THRESHOLD", cast=Decimal, default="200.00", parse_default=True
)

# --- Complaints ---------------------------------------------------------------
# A compensation above this (yuan) needs a second approver who is not the requester.
COMPENSATION_APPROVAL_THRESHOLD = env.get_value(
    "COMPENSATION_APPROVAL_THRESHOLD", cast=Decimal, default="200.00", parse_default=True
)
# The card contract's repair promise: a bank-caused failure is repaired within
# this many hours of the failed debit, or the customer is paid per day of delay.
REPAIR_PROMISE_HOURS = env.int("REPAIR_PROMISE_HOURS", default=24)
REPAIR_PROMISE_YUAN_PER_DAY = env.get_value(
    "REPAIR_PROMISE_YUAN_PER_DAY", cast=Decimal, default="20.00", parse_default=True
)
# The handler is reminded this many Shanghai days before a complaint's deadline.
COMPLAINT_REMINDER_DAYS_BEFORE = env.int("COMPLAINT_REMINDER_DAYS_BEFORE", default=3)

# --- Operations: alerts, health and metrics ---------------------------------------
# Mail for alerts. Development prints to the console; set EMAIL_BACKEND to
# django.core.mail.backends.filebased.EmailBackend (with EMAIL_FILE_PATH) to keep
# them as files, or to the SMTP backend (EMAIL_HOST...) in production.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="backoffice@bank.example")
# Who is mailed when a critical alert is first raised (empty: nobody).
OPERATIONS_ALERT_EMAILS = env.list(
    "OPERATIONS_ALERT_EMAILS", default=["operations@bank.example"] if DEBUG else []
)
# /healthz, /readyz and /metrics need no staff sign-in, so they answer only
# callers from these networks (load balancer, Prometheus) or presenting the token.
# Behind a proxy REMOTE_ADDR is the proxy: list it, or use the token.
HEALTH_ALLOWED_NETWORKS = env.list("HEALTH_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
# Bearer token for the same endpoints (empty: the allow-list alone decides).
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")
# /readyz fails when a worker or beat has not been heard from for this long.
# Beat writes its last run times to the database every few minutes
# (django-celery-beat syncs every 3 minutes), hence the longer beat limit.
READYZ_WORKER_STALE_AFTER_SECONDS = env.int("READYZ_WORKER_STALE_AFTER_SECONDS", default=120)
READYZ_BEAT_STALE_AFTER_SECONDS = env.int("READYZ_BEAT_STALE_AFTER_SECONDS", default=300)
# /readyz fails when a queue holds more messages than this (work piling up).
READYZ_MAX_QUEUE_DEPTH = env.int("READYZ_MAX_QUEUE_DEPTH", default=50_000)
# Reconciliation: a mandate still behind its card this long after the change is
# re-synced by the stale-mandate pass (the real-time path had its chance), and
# one still behind after the longer limit raises a critical alert.
RECONCILIATION_STALE_MANDATE_AFTER_SECONDS = env.int(
    "RECONCILIATION_STALE_MANDATE_AFTER_SECONDS", default=10 * 60
)
RECONCILIATION_DRIFT_ALERT_AFTER_SECONDS = env.int(
    "RECONCILIATION_DRIFT_ALERT_AFTER_SECONDS", default=60 * 60
)
# An outbox event unprocessed this long is stuck: reconciliation closes it if
# nothing is behind any more, else re-dispatches it (alert at twice the limit).
OUTBOX_STUCK_AFTER_SECONDS = env.int("OUTBOX_STUCK_AFTER_SECONDS", default=10 * 60)
# A recorded chunk of a debit run sent longer ago than this and not finished was
# lost (broker restart, killed worker): the run sweeper sends it again. Past the
# task's hard time limit, so no worker can still be collecting it.
DEBIT_CHUNK_LEASE_SECONDS = env.int(
    "DEBIT_CHUNK_LEASE_SECONDS", default=CELERY_TASK_TIME_LIMIT + 60
)
# A chunk sent more times than this without finishing raises a critical alert.
DEBIT_RUN_STUCK_ALERT_DISPATCHES = env.int("DEBIT_RUN_STUCK_ALERT_DISPATCHES", default=3)
# The selection's lease: a run whose selection has recorded no page for this long
# (a page takes well under a second) lost its worker, and the run sweeper resumes
# the selection itself. Past the task's hard time limit, so the selecting task is
# dead even if it was only stalled.
DEBIT_RUN_SELECTION_STALE_SECONDS = env.int("DEBIT_RUN_SELECTION_STALE_SECONDS", default=30 * 60)
# Attempts without an outcome this long raise an alert (the janitor keeps asking).
UNRESOLVED_ATTEMPTS_ALERT_AFTER_SECONDS = env.int(
    "UNRESOLVED_ATTEMPTS_ALERT_AFTER_SECONDS", default=60 * 60
)
# Days of history a failure code's rate today is compared with.
FAILURE_RATE_BASELINE_DAYS = env.int("FAILURE_RATE_BASELINE_DAYS", default=14)
# This many credential changes of one card within the window is a fraud signal.
REPEATED_CREDENTIAL_CHANGES = env.int("REPEATED_CREDENTIAL_CHANGES", default=3)
REPEATED_CREDENTIAL_CHANGES_WINDOW_HOURS = env.int(
    "REPEATED_CREDENTIAL_CHANGES_WINDOW_HOURS", default=24
)
# The probes' health endpoints are plain HTTP on the internal network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- Logging: one JSON object per line ---------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = logging_config(LOG_LEVEL)
