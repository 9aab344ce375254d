"""Typed readers for settings that come from the environment.

Each reader fails loudly (ImproperlyConfigured, naming the variable) on a
malformed value instead of silently falling back to a default.
"""

import os
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off."
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, default: str, *, schemes: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value and value.split(":", 1)[0].lower() not in schemes:
        raise ImproperlyConfigured(
            f"{name} must start with one of {', '.join(s + '://' for s in schemes)}; "
            f"got {value.split(':', 1)[0]!r}."
        )
    return value


# DRF reads a rate as "<count>/<period>" and only looks at the period's first
# letter, so "60/mango" would silently mean per minute; accept only real words.
RATE_PERIODS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}


def env_rate(name: str, default: str) -> str:
    """A request rate such as "60/min": a positive count, a slash, a period."""
    value = env_str(name, default)
    count, _, period = value.partition("/")
    if not count.isdigit() or int(count) < 1 or period.lower() not in RATE_PERIODS:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate; write it as <count>/<period>, e.g. 60/min, "
            "with a period of s, min, hour or day."
        )
    return f"{int(count)}/{period.lower()}"


EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
}


def env_email(name: str, default: str = "console://") -> dict:
    """Django's EMAIL_* settings from one URL.

    smtp://user:pass@host:587/?tls=1 (STARTTLS), smtps://user:pass@host:465/
    (TLS from the start), or console:// (print messages; the default). User
    and password are percent-decoded, so a password may contain any character.
    """
    value = env_str(name, default)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is malformed: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in EMAIL_BACKENDS:
        raise ImproperlyConfigured(
            f"{name} must start with smtp://, smtps:// or console://; got {scheme!r}."
        )
    config = {"EMAIL_BACKEND": EMAIL_BACKENDS[scheme]}
    if scheme == "console":
        return config
    if not parts.hostname:
        raise ImproperlyConfigured(f"{name} names no host, e.g. smtp://mail.example.com:587/.")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(options) - {"tls", "timeout"}
    if unknown:
        raise ImproperlyConfigured(
            f"{name} has unknown options {', '.join(sorted(unknown))}; use tls or timeout."
        )
    tls = _word_bool(name, "tls", options.get("tls", "0"))
    if scheme == "smtps" and tls:
        raise ImproperlyConfigured(f"{name}: smtps:// is TLS already; drop ?tls=1.")
    timeout = options.get("timeout", "10")
    if not timeout.isdigit() or int(timeout) < 1:
        raise ImproperlyConfigured(f"{name}: timeout={timeout!r} is not a whole number of seconds.")
    config.update(
        EMAIL_HOST=parts.hostname,
        EMAIL_PORT=port or (465 if scheme == "smtps" else 587 if tls else 25),
        EMAIL_HOST_USER=unquote(parts.username or ""),
        EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
        EMAIL_USE_TLS=tls,
        EMAIL_USE_SSL=scheme == "smtps",
        EMAIL_TIMEOUT=int(timeout),
    )
    return config


def _word_bool(name: str, option: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}: {option}={raw!r} is not a boolean; use 1 or 0.")
