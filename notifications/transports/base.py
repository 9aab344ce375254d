"""What every transport shares: its error contract, and posting to an HTTP API.

A transport's `send()` returns a `Sent` or raises `TransportError`, which
says whether trying again can help (`permanent`) and, when the service said
so, how long to wait (`retry_after`); healthchecks' transports work the same
way. A destination URL is often a secret (its path is the credential): no
message, log line or exception built here contains it.
"""

import json
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils import timezone

from monitor import curl

MAX_ANSWER_SHOWN = 200
# A Retry-After beyond this is treated as this: the sweeper's give-up age is
# the real bound, and a huge value must not overflow a datetime.
MAX_RETRY_AFTER = 6 * 3600.0
TIMEOUT = 10.0


class TransportError(Exception):
    """Delivery did not happen; `permanent` says whether a retry can help."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.status_code = status_code


@dataclass(frozen=True)
class Sent:
    """The destination accepted the message: its status and a short, safe answer."""

    status_code: int | None = None
    answer: str = ""
    seconds: float | None = None  # how long the exchange took, when known


@dataclass(frozen=True)
class Post:
    """The one POST a message takes, as data: a kind whose send() is one POST builds
    it with `post_for(config, message)`, so many can go out at once (`start`)."""

    url: str
    body: bytes
    service: str
    headers: dict[str, str] = field(default_factory=dict)
    hints: dict[str, str] | None = None
    secrets: tuple[str, ...] = ()

    def send(self, *, timeout: float = TIMEOUT) -> Sent:
        """Send it now, from this thread."""
        return post(
            self.url,
            self.body,
            service=self.service,
            headers=self.headers,
            timeout=timeout,
            hints=self.hints,
            secrets=self.secrets,
        )

    def start(self, *, timeout: float = TIMEOUT, priority: int = 0) -> Future:
        """Hand it to the process's many-at-once sender (monitor.curl.submit);
        `outcome()` reads the Future."""
        return curl.submit(
            "POST",
            self.url,
            body=self.body,
            headers=self.headers,
            timeout=timeout,
            priority=priority,
        )

    def outcome(self, future: Future) -> Sent:
        """What send() would have returned (or raised) for start()'s finished Future."""
        try:
            answer = future.result(timeout=0)
        except curl.RequestFailed as exc:
            raise _unreached(exc, self.service, self.url, self.secrets) from None
        return check_answer(
            answer, service=self.service, hints=self.hints, secrets=(self.url, *self.secrets)
        )


@dataclass(frozen=True)
class Field:
    """One setting of a channel kind, as the API, the form and the docs show it.

    `secret` settings are stored apart and never shown again (masked).
    `type` is one of: url, text, int, bool, choice, emails, headers.
    """

    label: str
    type: str = "text"
    required: bool = False
    secret: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    default: object = None
    extra: dict = field(default_factory=dict)


def post_json(
    url: str,
    payload: object,
    *,
    service: str,
    headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
    hints: dict[str, str] | None = None,
    secrets: tuple[str, ...] = (),
) -> Sent:
    """POST `payload` as JSON; return Sent for a 2xx answer, else raise TransportError."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    return post(
        url,
        body,
        service=service,
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout=timeout,
        hints=hints,
        secrets=secrets,
    )


def post(
    url: str,
    body: bytes,
    *,
    service: str,
    headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
    hints: dict[str, str] | None = None,
    secrets: tuple[str, ...] = (),
) -> Sent:
    """POST raw bytes through monitor.curl (the one HTTP stack, with the address guard)."""
    answer = exchange(url, body, service=service, headers=headers, timeout=timeout, secrets=secrets)
    return check_answer(answer, service=service, hints=hints, secrets=(url, *secrets))


def exchange(
    url: str,
    body: bytes,
    *,
    service: str,
    headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
    secrets: tuple[str, ...] = (),
) -> curl.Answer:
    """POST raw bytes and return the answer whatever its status; TransportError without one.

    For a transport that reads more of an error answer than check_answer()
    does (Discord's retry_after in its 429 body).
    """
    try:
        return curl.request("POST", url, body=body, headers=headers or {}, timeout=timeout)
    except curl.RequestFailed as exc:
        raise _unreached(exc, service, url, secrets) from None


def _unreached(exc: curl.RequestFailed, service: str, url: str, secrets) -> TransportError:
    return TransportError(
        f"Could not reach {service}: {redact(exc.message, url, *secrets)}",
        permanent=exc.permanent,
    )


def check_answer(
    answer: curl.Answer,
    *,
    service: str,
    hints: dict[str, str] | None = None,
    secrets: tuple[str, ...] = (),
) -> Sent:
    """Sent for a 2xx answer; otherwise a TransportError classified by its status.

    408, 429 and every 5xx are "try later"; any other answer means the
    request or the destination is wrong, and sending it again cannot help.
    """
    shown = redact(one_line(answer.text), *secrets)
    if 200 <= answer.status < 300:
        return Sent(status_code=answer.status, answer=shown, seconds=answer.seconds)
    message = f"{service} answered HTTP {answer.status}" + (f": {shown}" if shown else "")
    for needle, hint in (hints or {}).items():
        if needle in shown:
            message += f" ({hint})"
            break
    transient = answer.status in (408, 429) or answer.status >= 500
    raise TransportError(
        message,
        permanent=not transient,
        retry_after=parse_retry_after(answer.headers.get("retry-after")),
        status_code=answer.status,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # HTTP dates are always GMT
        seconds = (when - timezone.now()).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def one_line(text: str) -> str:
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())[:MAX_ANSWER_SHOWN]


def redact(text: str, *secrets: str) -> str:
    """Remove secrets (a webhook URL, its path, a token) from text shown to anyone."""
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, "[secret]")
        if "://" in secret:
            parts = urlsplit(secret)
            if len(parts.path) > 1:
                text = text.replace(parts.path, "[secret path]")
            if parts.query:  # Google Chat's key and token, a Teams workflow's sig
                text = text.replace(parts.query, "[secret query]")
    return text


def require_url(config: dict, name: str = "url") -> str:
    """The http(s) URL in config[name], or a ValidationError naming the field."""
    value = str(config.get(name) or "").strip()
    if not value:
        raise ValidationError({name: ["This field is required."]})
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({name: ["Enter an http:// or https:// URL."]})
    return value


def truncate(text: str, limit: int) -> str:
    """Text cut to a service's field limit, with an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
