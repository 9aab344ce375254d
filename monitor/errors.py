"""Failure kinds, and how an outbound `requests` call's exception maps to one.

The probe engine (libcurl) classifies its own errors in monitor.probe; this
module serves the few `requests`-based calls (the Slack webhook).
"""

import requests
from django.db import models
from urllib3.exceptions import NameResolutionError

from monitor.net import AddressNotAllowed, ResolutionError


class ErrorKind(models.TextChoices):
    DNS = "dns", "DNS lookup failed"
    CONNECT = "connect", "Connection failed"
    TIMEOUT = "timeout", "Timed out"
    TLS = "tls", "TLS error"
    HTTP_STATUS = "http_status", "HTTP error status"
    REDIRECTS = "redirects", "Too many redirects"
    BLOCKED = "blocked", "Address not allowed"
    INVALID_URL = "invalid_url", "Invalid URL"
    PROTOCOL = "protocol", "Malformed response"
    # The target answered, but not as the monitor expects (status not in
    # expectedStatus, keyword, JSON assertion).
    ASSERTION = "assertion", "Unexpected answer"
    DNS_ANSWER = "dns_answer", "Unexpected DNS answer"
    MISSED = "missed", "No heartbeat in time"
    JOB_FAILED = "job_failed", "The job reported a failure"
    # Degraded, not down: the check succeeded with a warning (DEGRADED_KINDS).
    SLOW = "slow", "Slower than allowed"
    CERT_EXPIRING = "cert_expiring", "Certificate expires soon"


# A successful check with one of these kinds is "degraded", not "up".
DEGRADED_KINDS = frozenset({ErrorKind.SLOW, ErrorKind.CERT_EXPIRING})


def classify_error(exc: BaseException, timeout: float) -> tuple[str, str]:
    """Map an exception from a `requests` call to (error kind, short message)."""
    if isinstance(exc, ResolutionError):
        return ErrorKind.DNS, str(exc)
    if isinstance(exc, AddressNotAllowed):
        return ErrorKind.BLOCKED, str(exc)
    if isinstance(exc, requests.Timeout):
        return ErrorKind.TIMEOUT, f"No complete answer within {timeout:g}s"
    if isinstance(exc, requests.exceptions.SSLError):
        return ErrorKind.TLS, f"TLS error: {_root_message(exc)}"
    if isinstance(exc, requests.TooManyRedirects):
        return ErrorKind.REDIRECTS, "Too many redirects"
    if isinstance(exc, (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema)):
        return ErrorKind.INVALID_URL, f"Unsupported URL: {_root_message(exc)}"
    if isinstance(exc, (requests.exceptions.InvalidURL, ValueError)):
        return ErrorKind.INVALID_URL, f"Invalid URL: {_root_message(exc)}"
    if isinstance(exc, requests.ConnectionError):
        if _caused_by(exc, NameResolutionError):
            return ErrorKind.DNS, f"DNS lookup failed: {_root_message(exc)}"
        if _caused_by(exc, ConnectionRefusedError):
            return ErrorKind.CONNECT, "Connection refused"
        return ErrorKind.CONNECT, f"Connection failed: {_root_message(exc)}"
    if isinstance(exc, requests.RequestException):
        return ErrorKind.PROTOCOL, f"Bad response: {_root_message(exc)}"
    return ErrorKind.PROTOCOL, f"{type(exc).__name__}: {exc}"


def _caused_by(exc: BaseException, kind: type) -> bool:
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            nested = reason
        elif current.args and isinstance(current.args[0], BaseException):
            nested = current.args[0]
        else:
            nested = current.__cause__ or current.__context__
        current = nested
    return False


def _root_message(exc: BaseException) -> str:
    """The innermost message, without urllib3's pool and object reprs."""
    current = exc
    for _ in range(10):
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
        elif current.args and isinstance(current.args[0], BaseException):
            current = current.args[0]
        elif current.__cause__ is not None:
            current = current.__cause__
        else:
            break
    message = str(current)
    if ": " in message and "object at 0x" in message:
        message = message.split(": ", 1)[1]
    return message
