"""Settings for the test suite: the embedded defaults, with tests' own data dir."""

import os
import tempfile

# A developer's .env (read by uptime/settings.py) must not change the suite;
# assigned, not defaulted, so no exported value can turn it back on.
os.environ["UPTIME_ENV_FILE"] = ""
os.environ.setdefault(
    "UPTIME_DATA_DIR", os.path.join(tempfile.gettempdir(), f"uptime-tests-{os.getpid()}")
)
# Tests talk to servers on 127.0.0.1; the guard itself is tested by turning this off.
os.environ.setdefault("UPTIME_ALLOW_PRIVATE_TARGETS", "1")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")

from uptime.settings import *  # noqa: E402,F403
from uptime.settings import DATA_DIR, DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file rather than memory, so tests with several threads share one database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
# On PostgreSQL the test database is Django's default, test_<NAME>, so runs
# against different DATABASE_URL names (uptime, uptime_n1, …) never collide.

(DATA_DIR / "static").mkdir(parents=True, exist_ok=True)  # whitenoise warns without it

# Never post to a real Slack a developer may have configured; tests that need
# the stand-in point this at it themselves.
SLACK_WEBHOOK_URL = ""
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Throttles and login limits count in a cache shared by every test in the
# process; the suite makes many requests from 127.0.0.1. Tests of the limits
# set their own low values (tests/test_throttling.py, tests/test_login_limits.py).
UPTIME_API_RATE_USER = "1000000/min"
UPTIME_API_RATE_ANON = "1000000/min"
UPTIME_PROBE_RATE = "1000000/min"
UPTIME_LOGIN_FAILURES_PER_USER = 1000000
UPTIME_LOGIN_FAILURES_PER_IP = 1000000
# allauth's limits (login, password reset, sign-up) off for the suite;
# tests/accounts/test_login_limits.py sets them.
ACCOUNT_RATE_LIMITS = False
# Per-process memory is quicker than the database cache the settings default
# to; tests/security/test_limit_policy.py shows the database cache shared by
# two processes.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The many admin tests use admin_client without a second factor;
# tests/accounts/test_admin_two_factor.py turns the rule on.
UPTIME_ADMIN_REQUIRES_2FA = False
# Most tests predate confirmation and expect the seed's rule, down at the
# first failure; tests/monitor/test_confirmation.py sets thresholds itself,
# and tests the default of 2 with override_settings.
UPTIME_FAILURE_THRESHOLD = 1
