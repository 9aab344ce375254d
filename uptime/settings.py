"""Settings for Uptime, read from the environment.

Every variable is listed in .env.example and the README. With none set, the
monitor runs on embedded defaults: SQLite and kombu's file-system broker under
var/. Pointing DATABASE_URL and CELERY_BROKER_URL at PostgreSQL and Redis
switches the same code to production mode.
"""

import os
import re
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv
from kombu import Queue

from accounts.limits import account_rate_limits
from uptime.broker import LOCATIONS_QUEUE, use_for_filesystem_urls, use_for_redis_urls
from uptime.env import env_bool, env_email, env_int, env_list, env_rate, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent

# One settings source for every process: honcho hands .env to the processes
# of `make run`, and reading it here gives manage.py, celery and gunicorn
# started by hand the same values. A variable already in the environment wins.
# UPTIME_ENV_FILE names another file; empty turns this off (tests/settings.py).
ENV_FILE = env_str("UPTIME_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    load_dotenv(ENV_FILE, override=False)
DATA_DIR = Path(env_str("UPTIME_DATA_DIR", str(BASE_DIR / "var"))).resolve()
# The embedded database (password hashes, sessions), the secret key and the
# broker's messages live here: owner-only, also when an older install made
# it world-readable.
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
if DATA_DIR.stat().st_uid == os.getuid():
    DATA_DIR.chmod(0o700)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if DEBUG:
        return "django-insecure-development-key-only-used-when-DEBUG-is-on"
    # No key and not in debug: keep a random one beside the embedded database,
    # so `make run` works out of the box and sessions survive a restart.
    # Production with several web machines must set SECRET_KEY (README).
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # First, so that its createsuperuser (which validates passwords) is the one found.
    "teams",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "accounts",
    "sites",
    "monitor",
    "notifications",
    "statuspages",
    "uptime",
]

MIDDLEWARE = [
    # First: their headers and 413 apply to every answer, static files included.
    "uptime.middleware.SecurityHeadersMiddleware",
    "uptime.middleware.BodySizeLimitMiddleware",
    # Before anything calls get_host(): a status page's own domain is no ALLOWED_HOST;
    # and a cached public page is answered without the rest (statuspages.middleware).
    "statuspages.middleware.PublicPageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "uptime.middleware.SessionLifetimeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.TwoFactorRequiredMiddleware",
]

ROOT_URLCONF = "uptime.urls"
WSGI_APPLICATION = "uptime.wsgi.application"

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


def _owner_only_sqlite(name: str) -> None:
    """Create the SQLite file owner-only (0600) before SQLite does it with the umask.

    SQLite gives its -wal and -shm files the database file's mode, so they
    follow; existing files from an older install are tightened too.
    """
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    if not path.parent.is_dir():
        return  # SQLite will say so, naming the path
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists() and file.stat().st_uid == os.getuid():
            file.chmod(0o600)


def _database() -> dict:
    url = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'uptime.sqlite3'}")
    try:
        # Connections are kept for the life of the process (health-checked
        # before each request or task, so one the server dropped is replaced).
        # A maximum age closed each of the worker's 16 threads' connections
        # every minute: a new PostgreSQL process per thread per minute, which
        # at the small end cost the server as much CPU as the checks did.
        config = dj_database_url.parse(url, conn_max_age=None, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        _owner_only_sqlite(config["NAME"])
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            # WAL lets the web server, the worker and beat read while one writes;
            # IMMEDIATE takes the write lock at BEGIN so two writers queue on
            # the busy timeout instead of failing with "database is locked".
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    elif config["ENGINE"] == "django.db.backends.postgresql":
        config.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    else:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be sqlite:// or postgres://, got engine {config['ENGINE']}."
        )
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- People and sign-in (django-allauth) ------------------------------------
# Login, logout, password reset and change, sign-up, two-factor login and
# single sign-on are allauth's (README, "People and sign-in"); accounts/ holds
# the few places Uptime's rules differ from its defaults.
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapter.SocialAccountAdapter"
# Sign in with the username or the email address.
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
# No confirmation mail on sign-up: sign-up is closed unless the operator opens
# it, and an invitation link proves the address already.
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# Sessions last as Django's do (no "remember me" box), as before allauth.
ACCOUNT_SESSION_REMEMBER = True
# Anyone may register at /accounts/signup/ when on; off, only invitees and
# single sign-on users get accounts (accounts.adapter).
UPTIME_OPEN_SIGNUP = env_bool("UPTIME_OPEN_SIGNUP", False)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Uptime"
SOCIALACCOUNT_ONLY = False
# allauth's login page posts to the provider's login URL; GET is refused so a
# link on another site cannot start a sign-in.
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False


def _oidc_providers() -> dict:
    """One OpenID Connect identity provider from UPTIME_OIDC_*, or none.

    Configured here rather than in the database (allauth's SocialApp) so the
    environment is the one settings source. allauth fetches the issuer's
    discovery document, keys and token endpoint itself (with requests); the
    issuer is operator configuration, so the guard against private addresses
    for monitored sites does not apply and a loopback issuer works.
    """
    issuer = env_url("UPTIME_OIDC_ISSUER", "", schemes=("http", "https"))
    client_id = env_str("UPTIME_OIDC_CLIENT_ID")
    secret = env_str("UPTIME_OIDC_CLIENT_SECRET")
    if not issuer:
        if client_id or secret:
            raise ImproperlyConfigured(
                "UPTIME_OIDC_CLIENT_ID/SECRET are set but not UPTIME_OIDC_ISSUER."
            )
        return {}
    if not client_id:
        raise ImproperlyConfigured("UPTIME_OIDC_ISSUER is set but not UPTIME_OIDC_CLIENT_ID.")
    app = {
        "provider_id": "sso",
        "name": env_str("UPTIME_OIDC_NAME", "single sign-on"),
        "client_id": client_id,
        "secret": secret,
        "settings": {"server_url": issuer.rstrip("/")},
    }
    return {"openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": [app]}}


SOCIALACCOUNT_PROVIDERS = _oidc_providers()

# Email: EMAIL_URL (smtp://user:pass@host:587/?tls=1, smtps://…, console://).
_EMAIL = env_email("EMAIL_URL", "console://")
EMAIL_BACKEND = _EMAIL["EMAIL_BACKEND"]
EMAIL_HOST = _EMAIL.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _EMAIL.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _EMAIL.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _EMAIL.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _EMAIL.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _EMAIL.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = _EMAIL.get("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("UPTIME_FROM_EMAIL", "uptime@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Uptime] "

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous API call is answered 401 with a
        # WWW-Authenticate header rather than 403.
        "accounts.api_auth.LimitedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "teams.tokens.TokenScopePermission",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "uptime.api.exception_handler",
    # Throttle classes and the proxy count are set under "Security" below.
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Uptime API",
    "DESCRIPTION": "Self-hosted website uptime monitor.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs and /api/redoc load their JavaScript from our own static
    # files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that share a field name with another's ("kind", "status").
    "ENUM_NAME_OVERRIDES": {
        "StatusIncidentKindEnum": "statuspages.models.StatusIncident.Kind",
        "StatusIncidentUpdateStatusEnum": "statuspages.models.StatusIncidentUpdate.Status",
        "StatusEnum": "sites.models.Site.Status",
    },
}

# --- Celery -----------------------------------------------------------------
# Longer than any task or planned retry (notification backoff stops at 15 min):
# an unacknowledged message older than this is given to another worker.
UPTIME_VISIBILITY_TIMEOUT = env_int("UPTIME_VISIBILITY_TIMEOUT", 3600, minimum=30)
# Fail fast when Redis stops answering: a web request or a task that publishes
# gives up within seconds instead of hanging (the sweeper finishes its work).
UPTIME_BROKER_TIMEOUT = env_int("UPTIME_BROKER_TIMEOUT", 5, minimum=1)
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", "filesystem://localhost/", schemes=("filesystem", "redis", "rediss")
)
if CELERY_BROKER_URL.startswith("filesystem"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in (BROKER_DIR, *BROKER_DIR.iterdir()):
        if folder.is_dir() and folder.stat().st_uid == os.getuid():
            folder.chmod(0o700)
    # kombu's own file-system transport lets a worker read a message file
    # before it is written and stop (uptime/broker.py); ours writes whole files.
    use_for_filesystem_urls()
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # Exchange bindings; kombu's default is ./control in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
    }
else:
    # kombu's, with channels that fail as connection errors once closed.
    use_for_redis_urls()
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": UPTIME_VISIBILITY_TIMEOUT,
        "socket_timeout": UPTIME_BROKER_TIMEOUT,
        "socket_connect_timeout": UPTIME_BROKER_TIMEOUT,
        "health_check_interval": 10,
        # Look for abandoned messages every 10 s (kombu's default is 100 s).
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# At-least-once: a message is acknowledged only after its task has finished,
# and a worker that dies mid-task hands it back to the queue. Every task is
# idempotent (README, "Reliability"), so running one twice changes nothing;
# uptime.reliability bounds how often a message that kills its worker returns.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A batch of checks takes at most its slowest site's timeout (60 s) plus recording.
CELERY_TASK_SOFT_TIME_LIMIT = 150
CELERY_TASK_TIME_LIMIT = 180
CELERY_BROKER_CONNECTION_TIMEOUT = UPTIME_BROKER_TIMEOUT
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# django-celery-beat's DatabaseScheduler, asking whether the schedule changed
# every UPTIME_BEAT_RELOAD_EVERY seconds instead of every tick (uptime/beat.py).
CELERY_BEAT_SCHEDULER = "uptime.beat:Scheduler"
UPTIME_BEAT_RELOAD_EVERY = env_int("UPTIME_BEAT_RELOAD_EVERY", 15, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# The one place the periodic schedule is defined. django-celery-beat's
# DatabaseScheduler copies it into the database, where the admin shows it.
UPTIME_DISPATCH_EVERY = env_int("UPTIME_DISPATCH_EVERY", 1, minimum=1)
UPTIME_SWEEP_EVERY = env_int("UPTIME_SWEEP_EVERY", 60, minimum=5)
# Heartbeat deadlines are judged this often (monitor.heartbeat): a missed one
# is recorded at most this many seconds after its grace ends.
UPTIME_HEARTBEAT_EVERY = env_int("UPTIME_HEARTBEAT_EVERY", 15, minimum=1)
# Reminders and escalations (notifications.followups) are made at most this
# many seconds late.
UPTIME_FOLLOWUP_EVERY = env_int("UPTIME_FOLLOWUP_EVERY", 60, minimum=5)
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-checks": {
        "task": "monitor.tasks.dispatch_due_checks",
        "schedule": float(UPTIME_DISPATCH_EVERY),
        # A tick that waited longer than its period is superseded by the next.
        "options": {"expires": float(UPTIME_DISPATCH_EVERY)},
    },
    "sweep-pending-notifications": {
        "task": "notifications.tasks.sweep_pending_notifications",
        "schedule": float(UPTIME_SWEEP_EVERY),
        "options": {"expires": float(UPTIME_SWEEP_EVERY)},
    },
    "evaluate-heartbeats": {
        "task": "monitor.tasks.evaluate_heartbeats",
        "schedule": float(UPTIME_HEARTBEAT_EVERY),
        "options": {"expires": float(UPTIME_HEARTBEAT_EVERY)},
    },
    "send-followups": {
        "task": "notifications.tasks.send_followups",
        "schedule": float(UPTIME_FOLLOWUP_EVERY),
        "options": {"expires": float(UPTIME_FOLLOWUP_EVERY)},
    },
    "prune-history": {
        "task": "monitor.tasks_history.prune_history",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}
# Task modules beyond each app's tasks.py.
CELERY_IMPORTS = ("monitor.tasks_history", "notifications.tasks_followups")

# --- Monitoring -------------------------------------------------------------
# Refuse targets (and webhooks) on loopback, private, link-local and other
# non-public addresses unless explicitly allowed.
UPTIME_ALLOW_PRIVATE_TARGETS = env_bool("UPTIME_ALLOW_PRIVATE_TARGETS", False)
# Where users reach Uptime, for links in emails (invitations).
UPTIME_BASE_URL = env_url("UPTIME_BASE_URL", "http://127.0.0.1:8000", schemes=("http", "https"))
UPTIME_DISPATCH_BATCH = env_int("UPTIME_DISPATCH_BATCH", 500, minimum=1)
# A queued check not recorded within its site's timeout plus this many seconds
# is presumed lost (a killed worker, a broker restarted without persistence)
# and the site is claimed again.
UPTIME_CLAIM_GRACE = env_int("UPTIME_CLAIM_GRACE", 60, minimum=5)
UPTIME_PROBE_CONCURRENCY = env_int("UPTIME_PROBE_CONCURRENCY", 500, minimum=1)

# --- Locations (monitor.locations) ------------------------------------------
# The location this process checks from. "default" is the central side (it
# has the database); any other name makes a worker a probe of that location:
# it consumes the queue probe.<name> and sends its results back signed with
# UPTIME_LOCATION_TOKEN (`manage.py location add <name>` prints it).
UPTIME_LOCATION = env_str("UPTIME_LOCATION", "default") or "default"
if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", UPTIME_LOCATION):
    raise ImproperlyConfigured(
        f"UPTIME_LOCATION={UPTIME_LOCATION!r}: use 1-32 lowercase letters, digits and dashes."
    )
UPTIME_LOCATION_TOKEN = env_str("UPTIME_LOCATION_TOKEN")
# A probe reports every this many seconds; a location silent for
# UPTIME_LOCATION_STALE_AFTER seconds is stale: no checks are sent there and
# its votes stop counting.
UPTIME_LOCATION_HEARTBEAT_EVERY = env_int("UPTIME_LOCATION_HEARTBEAT_EVERY", 10, minimum=1)
UPTIME_LOCATION_STALE_AFTER = env_int("UPTIME_LOCATION_STALE_AFTER", 60, minimum=2)
# The local address this process's checks are sent from (libcurl's
# CURLOPT_INTERFACE, e.g. 127.0.0.2 in the tests); empty: the system's choice.
UPTIME_SOURCE_ADDRESS = env_str("UPTIME_SOURCE_ADDRESS")
# What a worker consumes when started without --queues: the central side
# its own work and what locations send it (results and heartbeats only:
# uptime.reliability refuses any other task from that queue); a location
# only its own probe.<name>.
# (Locations need Redis: with the file-system broker of `make run` there are
# none, and the central side does not poll a queue nobody writes to.)
if UPTIME_LOCATION != "default":
    # A location touches as little of the broker as it can, so its Redis
    # user may be allowed its own queue and pushing to the locations' queue
    # and nothing else (README, "Locations"): it declares nothing (the
    # central side declares its queue when it first sends to it), takes its
    # messages without Redis's shared bookkeeping of unacknowledged ones (a
    # batch lost with a crashed probe is a missed round, recorded as such),
    # and takes no commands through the broker.
    CELERY_TASK_QUEUES = (Queue(f"probe.{UPTIME_LOCATION}", no_declare=True),)
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
    if not CELERY_BROKER_URL.startswith("filesystem"):
        CELERY_BROKER_TRANSPORT_OPTIONS = {
            **CELERY_BROKER_TRANSPORT_OPTIONS,
            "ack_emulation": False,
            # One list per queue (no priority lists beside it): the key is
            # exactly the queue's name.
            "priority_steps": [0],
        }
elif not CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_TASK_QUEUES = (Queue("celery"), Queue(LOCATIONS_QUEUE))
# A new monitor's failureThreshold unless it says otherwise: down after this
# many failed checks in a row (the first failure is re-checked after the
# monitor's retry interval), so one dropped packet pages nobody.
UPTIME_FAILURE_THRESHOLD = env_int("UPTIME_FAILURE_THRESHOLD", 2, minimum=1)
# Raw checks are kept this many days; hourly and daily rollups much longer.
UPTIME_CHECK_RETENTION_DAYS = env_int("UPTIME_CHECK_RETENTION_DAYS", 30, minimum=1)
# A check stays a row of its own this many hours; then the hourly upkeep packs
# each closed hour of a site's checks from one location into one row
# (monitor.packing): about 90 bytes per check become about 13.
UPTIME_CHECK_PACK_AFTER_HOURS = env_int("UPTIME_CHECK_PACK_AFTER_HOURS", 2, minimum=1)
UPTIME_ROLLUP_RETENTION_DAYS = env_int("UPTIME_ROLLUP_RETENTION_DAYS", 400, minimum=1)
# Uptime's own network failing looks like every site failing at once. A down
# alert caused by a network-level failure waits UPTIME_OUTAGE_SETTLE seconds
# (plus the failed check's duration); if by then at least UPTIME_OUTAGE_MIN_SITES
# sites, and UPTIME_OUTAGE_PERCENT % of the sites checked, failed at the network
# level in that window, one connectivity message replaces their alerts
# (monitor.connectivity). UPTIME_OUTAGE_SETTLE=0 turns the rule off.
UPTIME_OUTAGE_SETTLE = env_int("UPTIME_OUTAGE_SETTLE", 15, minimum=0)
UPTIME_OUTAGE_MIN_SITES = env_int("UPTIME_OUTAGE_MIN_SITES", 10, minimum=2)
UPTIME_OUTAGE_PERCENT = env_int("UPTIME_OUTAGE_PERCENT", 80, minimum=1)
if UPTIME_OUTAGE_PERCENT > 100:
    raise ImproperlyConfigured(
        f"UPTIME_OUTAGE_PERCENT={UPTIME_OUTAGE_PERCENT} is above the maximum of 100."
    )

# --- Notifications ----------------------------------------------------------
SLACK_WEBHOOK_URL = env_url("SLACK_WEBHOOK_URL", "", schemes=("http", "https"))
# A transition's notification is queued right after commit; one still pending
# this many seconds later (its message lost with a broker restart) is queued
# again by the sweeper.
UPTIME_SWEEP_GRACE = env_int("UPTIME_SWEEP_GRACE", 120, minimum=5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # At DEBUG urllib3 logs request lines, which would put the Slack
        # webhook's secret path in the logs.
        "urllib3": {"level": "INFO"},
        # One line per task received/succeeded, every few seconds, says nothing
        # useful; our own tasks log what they did when they did something.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        # INFO shows every task beat sends.
        "celery.beat": {"level": env_str("UPTIME_BEAT_LOG_LEVEL", "WARNING").upper()},
    },
}

# --- Security -----------------------------------------------------------------
# Proxies in front of the web server that set X-Forwarded-For and
# X-Forwarded-Proto (1 behind nginx or a load balancer). With 0 those headers
# are ignored: a client could forge them, so its address is REMOTE_ADDR.
UPTIME_NUM_PROXIES = env_int("UPTIME_NUM_PROXIES", 0, minimum=0)

# API throttling, per user with a token or session and per address without.
# Counts live in CACHES, shared by every web process: the database by
# default, Redis with CACHE_URL. Anonymous callers count per address, IPv6 per /64.
UPTIME_API_RATE_USER = env_rate("UPTIME_API_RATE_USER", "600/min")
UPTIME_API_RATE_ANON = env_rate("UPTIME_API_RATE_ANON", "60/min")
# "Ping" and "check now" run a probe inside the web request, holding a web
# server thread until the target answers or times out (monitor.probe_limits).
# Per user: this many a minute, and UPTIME_PROBES_PER_USER at once. Across
# every web process UPTIME_PROBES_GLOBAL at once, and in each process
# UPTIME_PROBES_PER_PROCESS: keep that below gunicorn's --threads (4 in the
# Procfile) so other requests always find a free thread. Over a cap the
# answer is 429 with Retry-After, at once.
UPTIME_PROBE_RATE = env_rate("UPTIME_PROBE_RATE", "30/min")
UPTIME_PROBES_PER_USER = env_int("UPTIME_PROBES_PER_USER", 2, minimum=1)
UPTIME_PROBES_GLOBAL = env_int("UPTIME_PROBES_GLOBAL", 4, minimum=1)
UPTIME_PROBES_PER_PROCESS = env_int("UPTIME_PROBES_PER_PROCESS", 2, minimum=1)
# Heartbeat pings (/ping/<token>), which need no login: per ping URL (a job
# pinging in a loop) and per address (guessing ping URLs). Over either, 429.
UPTIME_PING_RATE_TOKEN = env_rate("UPTIME_PING_RATE_TOKEN", "60/min")
UPTIME_PING_RATE_ADDRESS = env_rate("UPTIME_PING_RATE_ADDRESS", "600/min")
REST_FRAMEWORK.update(
    {
        "DEFAULT_THROTTLE_CLASSES": [
            "uptime.throttling.UserThrottle",
            "uptime.throttling.AnonThrottle",
        ],
        "NUM_PROXIES": UPTIME_NUM_PROXIES,
    }
)

# The failed-attempt policy (accounts.limits), for every way in: the login
# form (the admin signs in through it), /setup, 2FA codes, API tokens,
# invitation links and the single sign-on callback. Within the window: this
# many failures per username and address, this many per address from any
# entry point, and past twice the per-username number from all addresses
# together a growing wait per attempt (2 s, 4 s … at most 5 minutes). Over a
# limit the answer is 429 with Retry-After, before any credential is checked.
UPTIME_LOGIN_FAILURES_PER_USER = env_int("UPTIME_LOGIN_FAILURES_PER_USER", 5, minimum=1)
UPTIME_LOGIN_FAILURES_PER_IP = env_int("UPTIME_LOGIN_FAILURES_PER_IP", 20, minimum=1)
UPTIME_LOGIN_WINDOW_MINUTES = env_int("UPTIME_LOGIN_WINDOW_MINUTES", 15, minimum=1)
# allauth counts the login form's and 2FA codes' failures itself, by this;
# its other limits (password reset requests, sign-ups) are stated there too.
ACCOUNT_RATE_LIMITS = account_rate_limits(
    failures_per_user=UPTIME_LOGIN_FAILURES_PER_USER,
    failures_per_ip=UPTIME_LOGIN_FAILURES_PER_IP,
    window_minutes=UPTIME_LOGIN_WINDOW_MINUTES,
)
# Group IPv6 clients by /64 for every per-address limit (as accounts.limits does).
ALLAUTH_RATE_LIMIT_IPV6_PREFIX = 64
# Staff users without a second factor are sent to set one up before the admin opens.
UPTIME_ADMIN_REQUIRES_2FA = env_bool("UPTIME_ADMIN_REQUIRES_2FA", True)


def _caches() -> dict:
    """Redis with CACHE_URL; otherwise a table in the database.

    Limits and throttles count in this cache, so it must be one for every web
    process: per-process memory would let each gunicorn worker count on its
    own. The database needs nothing installed; its table is made by a
    migration (accounts 0001), whatever CACHES says when it runs.
    """
    url = env_url("CACHE_URL", "", schemes=("redis", "rediss"))
    if url:
        backend = "django.core.cache.backends.redis.RedisCache"
        return {"default": {"BACKEND": backend, "LOCATION": url}}
    backend = "django.core.cache.backends.db.DatabaseCache"
    return {"default": {"BACKEND": backend, "LOCATION": UPTIME_CACHE_TABLE}}


UPTIME_CACHE_TABLE = "uptime_cache"
CACHES = _caches()

# UPTIME_HTTPS=1 when users reach Uptime over https (directly or through a
# TLS-terminating proxy): secure cookies, redirect to https, and HSTS, at once.
# Off by default, so `make run` works on plain http://127.0.0.1.
UPTIME_HTTPS = env_bool("UPTIME_HTTPS", False)
SECURE_SSL_REDIRECT = UPTIME_HTTPS
# Load balancers probe /healthz over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = UPTIME_HTTPS
CSRF_COOKIE_SECURE = UPTIME_HTTPS
if UPTIME_HTTPS:
    # Browsers accept a __Host- cookie only if it is Secure, for path / and
    # for this host alone: no sibling subdomain over plain http can set or
    # overwrite it (cookie tossing).
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
# Pages send the CSRF token from the template (hx-headers in base.html, the
# forms' hidden field); no script needs to read the cookie.
CSRF_COOKIE_HTTPONLY = True

# Signed out after this long without a request (the dashboard's polling counts)...
UPTIME_SESSION_IDLE_MINUTES = env_int("UPTIME_SESSION_IDLE_MINUTES", 120, minimum=1)
# ...and this long after signing in, whatever the activity.
UPTIME_SESSION_MAX_HOURS = env_int("UPTIME_SESSION_MAX_HOURS", 72, minimum=1)
SESSION_COOKIE_AGE = UPTIME_SESSION_IDLE_MINUTES * 60

# One typo of escaping in a template must not run script: only our own files
# may. Swagger UI and Redoc get a looser policy for styles (uptime/api_urls.py).
UPTIME_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# No page uses these browser features; a script that slipped in cannot either.
# (WebAuthn is left alone: security keys may sign users in.)
UPTIME_PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "usb",
        "xr-spatial-tracking",
    )
)
# Answers no browser or proxy may keep: the API (tokens, site lists), the
# account pages (token keys shown once), invitation links, the admin.
UPTIME_NO_STORE_PATHS = ("/api/", "/account", "/invite/", "/admin/")
SECURE_HSTS_SECONDS = env_int("UPTIME_HSTS_SECONDS", 31536000 if UPTIME_HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("UPTIME_HSTS_INCLUDE_SUBDOMAINS", UPTIME_HTTPS)
# Preloading is a promise to browsers that is slow to take back; opt in.
SECURE_HSTS_PRELOAD = env_bool("UPTIME_HSTS_PRELOAD", False)
if UPTIME_NUM_PROXIES:
    # Only trusted when a proxy is said to be there; otherwise a client could
    # claim https with this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# UPTIME_ALLOW_PRIVATE_TARGETS lets anyone with an account make the server
# request its own network. In production (DEBUG off) `check --deploy` fails
# until this says that was meant (uptime/checks.py).
UPTIME_ALLOW_PRIVATE_TARGETS_ACKNOWLEDGED = env_bool(
    "UPTIME_ALLOW_PRIVATE_TARGETS_ACKNOWLEDGED", False
)

# Channel transports' API addresses (tests point them at local stand-ins)
# https://core.telegram.org/bots/api#making-requests (a local Bot API server also works)
UPTIME_TELEGRAM_API_URL = env_url(
    "UPTIME_TELEGRAM_API_URL", "https://api.telegram.org", schemes=("https", "http")
)
# https://developer.pagerduty.com/docs/events-api-v2/trigger-events/; change events
# (maintenance) go to "change/enqueue" beside it.
UPTIME_PAGERDUTY_EVENTS_URL = env_url(
    "UPTIME_PAGERDUTY_EVENTS_URL",
    "https://events.pagerduty.com/v2/enqueue",
    schemes=("https", "http"),
)
# Empty: each Opsgenie channel's region picks api.opsgenie.com or api.eu.opsgenie.com.
UPTIME_OPSGENIE_API_URL = env_url("UPTIME_OPSGENIE_API_URL", "", schemes=("https", "http"))
UPTIME_PUSHOVER_API_URL = env_url(
    "UPTIME_PUSHOVER_API_URL", "https://api.pushover.net/1/messages.json", schemes=("https", "http")
)
