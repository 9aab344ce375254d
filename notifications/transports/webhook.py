"""A generic webhook: a documented JSON body POSTed to any URL, signed when there is a secret.

The body (UTF-8 JSON; every key is always present, null when unknown)::

    {
      "event": "down",              # down, up, degraded, cert_expiring, maintenance_start,
                                    # maintenance_end, reminder, escalation, test
      "severity": "critical",       # critical, warning, ok, info
      "title": "Shop API is down",  # one plain line
      "text": "...",                # title, details, links: plain text, several lines
      "monitor": {"id": 42, "name": "Shop API", "target": "https://shop.example/health",
                  "link": "https://uptime.example/site/42"},
      "reason": "HTTP 503 Service Unavailable",
      "statusCode": 503,
      "happenedAt": "2026-11-29T12:00:00Z",
      "downSince": "2026-11-29T11:58:00Z",   # reminders, escalations, recoveries
      "downtimeSeconds": 120,                # on recovery
      "dedupKey": "uptime-42-incident-7",    # one per incident: the recovery repeats it
      "ackLink": "https://uptime.example/ack/…",  # acknowledges the incident (login required)
      "acknowledgedBy": "alice"
    }

Signature: with a secret, each request carries
`X-Uptime-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
A receiver recomputes it from the raw bytes it got (before parsing any JSON),
compares in constant time and rejects a `t` more than a few minutes from its
clock, so a recorded request cannot be replayed later. `verify_signature()`
below does exactly that and is written to be copied into a receiver.
"""

import hashlib
import hmac
import json
import re
import time
from datetime import UTC

from django.core.exceptions import ValidationError

from notifications.messages import Message

from . import base

LABEL = "Webhook"
FIELDS = {
    "url": base.Field("URL", type="url", required=True, secret=True, help="Where to POST."),
    "secret": base.Field(
        "Signing secret",
        secret=True,
        help="Signs each request (X-Uptime-Signature) so the receiver can check it came "
        "from Uptime and is not a replay.",
    ),
    "headers": base.Field(
        "Extra headers",
        type="headers",
        secret=True,  # often an Authorization header
        help='Sent with every request, e.g. {"Authorization": "Bearer …"}.',
    ),
}
PACE = 0.0  # the receiver is the user's own; it can say 429 with Retry-After

SIGNATURE_HEADER = "X-Uptime-Signature"
# Headers Uptime sets itself, which a channel's settings may not replace.
RESERVED = {"content-type", "content-length", "host", "transfer-encoding", "expect"}
RESERVED.add(SIGNATURE_HEADER.lower())
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 §5.6.2
MAX_HEADERS = 20
MAX_HEADER_VALUE = 4096


def clean(config: dict) -> dict:
    cleaned = {"url": base.require_url(config)}
    secret = config.get("secret")
    if secret not in (None, ""):
        if not isinstance(secret, str) or not secret.strip():
            raise ValidationError({"secret": ["Enter the secret as text, or leave it empty."]})
        cleaned["secret"] = secret.strip()
    headers = config.get("headers")
    if headers not in (None, {}):
        cleaned["headers"] = clean_headers(headers)
    return cleaned


def clean_headers(headers: object) -> dict[str, str]:
    """Header names and values that cannot split or smuggle a request; errors name `headers`."""

    def invalid(reason: str) -> ValidationError:
        return ValidationError({"headers": [reason]})

    if not isinstance(headers, dict):
        raise invalid('Enter an object of header names and values, e.g. {"X-Token": "…"}.')
    if len(headers) > MAX_HEADERS:
        raise invalid(f"Enter at most {MAX_HEADERS} headers.")
    cleaned = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise invalid(f"{name!r} is not a valid header name (letters, digits, - and the like).")
        if name.lower() in RESERVED:
            raise invalid(f"{name} is set by Uptime and cannot be replaced.")
        if not isinstance(value, str):
            raise invalid(f"The value of {name} must be text.")
        if any(ch in value for ch in "\r\n\0") or len(value) > MAX_HEADER_VALUE:
            raise invalid(
                f"The value of {name} must be one line of at most {MAX_HEADER_VALUE} characters."
            )
        cleaned[name] = value.strip()
    return cleaned


def destination(config: dict) -> str:
    return config["url"]


def send(config: dict, message: Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    return post_for(config, message).send(timeout=timeout)


def post_for(config: dict, message: Message) -> base.Post:
    body = json.dumps(payload(message), ensure_ascii=False).encode()
    extra = config.get("headers") or {}
    headers = {**extra, "Content-Type": "application/json"}
    secret = config.get("secret") or ""
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return base.Post(
        config["url"], body, service="Webhook", headers=headers, secrets=(secret, *extra.values())
    )


def payload(message: Message) -> dict:
    return {
        "event": message.event,
        "severity": message.severity,
        "title": message.title,
        "text": message.text,
        "monitor": {
            "id": message.site_id,
            "name": message.site_name or None,
            "target": message.target or None,
            "link": message.link or None,
        },
        "reason": message.reason or None,
        "statusCode": message.status_code,
        "happenedAt": iso_utc(message.happened_at),
        "downSince": iso_utc(message.down_since),
        "downtimeSeconds": (
            round(message.downtime.total_seconds()) if message.downtime is not None else None
        ),
        "dedupKey": message.dedup_key or None,
        "ackLink": message.ack_link or None,
        "acknowledgedBy": message.acknowledged_by or None,
    }


def iso_utc(moment) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The X-Uptime-Signature value for `body`: "t=<unix seconds>,v1=<hex HMAC-SHA256>"."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, *, tolerance: float = 300, now: float | None = None
) -> bool:
    """True when `header` (X-Uptime-Signature) signs these exact `body` bytes with `secret`
    within `tolerance` seconds of `now` (default: the current time).

    For receivers: it needs only hashlib, hmac and time, so copy it. Pass the raw request body,
    not re-serialised JSON. A `t` outside the tolerance is refused, so a
    captured request cannot be replayed later; several v1= values (during a
    secret's rotation) are accepted if any one matches.
    """
    timestamp, candidates = None, []
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
