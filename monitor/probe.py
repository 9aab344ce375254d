"""Probing: one HTTP GET per check, classified into up or a reason for down.

Shaped for batches: `probe_many` takes many targets and returns one result
each, probing them concurrently, so the recorder can store a whole batch in
one transaction. Nothing here touches the database.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import requests
from django.db import models
from django.utils import timezone
from urllib3.exceptions import NameResolutionError

from monitor.net import AddressNotAllowed, ResolutionError, guarded_session

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_LENGTH = 300


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


@dataclass(frozen=True)
class Target:
    url: str
    timeout: float
    site_id: int | None = None


@dataclass(frozen=True)
class ProbeResult:
    up: bool
    checked_at: datetime
    status_code: int | None = None
    response_ms: int | None = None
    error_kind: str = ""
    error_message: str = ""
    site_id: int | None = None

    @property
    def reason(self) -> str:
        return self.error_message


def is_up_status(status_code: int) -> bool:
    """2xx and 3xx are up (a 3xx left after following redirects is an answer)."""
    return 200 <= status_code < 400


def probe(target: Target) -> ProbeResult:
    """GET the target once, within its timeout, and classify the outcome."""
    checked_at = timezone.now()
    started = time.monotonic()

    def result(up: bool, status_code: int | None = None, kind: str = "", message: str = ""):
        return ProbeResult(
            up=up,
            checked_at=checked_at,
            status_code=status_code,
            response_ms=round((time.monotonic() - started) * 1000),
            error_kind=kind,
            error_message=message[:MAX_MESSAGE_LENGTH],
            site_id=target.site_id,
        )

    try:
        with guarded_session(max_redirects=MAX_REDIRECTS) as session:
            with session.get(target.url, timeout=target.timeout, stream=True) as response:
                _read_capped(response, deadline=started + target.timeout)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a stored reason
        kind, message = classify_error(exc, target.timeout)
        return result(False, kind=kind, message=message)

    code = response.status_code
    if is_up_status(code):
        return result(True, status_code=code)
    reason = f"HTTP {code} {response.reason or ''}".strip()
    return result(False, status_code=code, kind=ErrorKind.HTTP_STATUS, message=reason)


def probe_many(targets: list[Target], *, concurrency: int = 32) -> list[ProbeResult]:
    """Probe many targets concurrently; results come back in target order."""
    if len(targets) <= 1:
        return [probe(t) for t in targets]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(targets))) as pool:
        return list(pool.map(probe, targets))


class _DeadlineExceeded(Exception):
    pass


def _read_capped(response: requests.Response, *, deadline: float) -> None:
    """Read at most MAX_BODY_BYTES of the (decoded) body, within the deadline."""
    remaining = MAX_BODY_BYTES
    for chunk in response.iter_content(chunk_size=8192):
        remaining -= len(chunk)
        if remaining <= 0:
            return
        if time.monotonic() > deadline:
            raise _DeadlineExceeded


def classify_error(exc: BaseException, timeout: float) -> tuple[str, str]:
    """Map an exception from a probe to (error kind, short message)."""
    if isinstance(exc, ResolutionError):
        return ErrorKind.DNS, str(exc)
    if isinstance(exc, AddressNotAllowed):
        return ErrorKind.BLOCKED, str(exc)
    if isinstance(exc, (_DeadlineExceeded, requests.Timeout)):
        return ErrorKind.TIMEOUT, f"No complete answer within {timeout:g}s"
    if isinstance(exc, requests.exceptions.SSLError):
        return ErrorKind.TLS, f"TLS error: {_root_message(exc)}"
    if isinstance(exc, requests.TooManyRedirects):
        return ErrorKind.REDIRECTS, f"More than {MAX_REDIRECTS} redirects"
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
