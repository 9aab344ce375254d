"""The ping endpoint: /ping/<token>, /ping/<token>/start, /ping/<token>/fail.

Called by cron jobs and scripts (curl, wget), so: no login, no CSRF, no
session, plain text, GET, POST and HEAD alike. The token is the credential:
an unknown one is 404 after the same limits and lookup as a known one. Both
limits are counted before the lookup (uptime.throttling).
"""

import math
import unicodedata

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from monitor.heartbeat import Outcome, Signal, ping_receive
from uptime.throttling import PingAddressThrottle, PingTokenThrottle

# Read of a /fail body: its text becomes the failure's message (300 characters).
MAX_BODY_READ = 4096
MAX_TOKEN_LENGTH = 64
ANSWERS = {
    Outcome.RECORDED: (200, "OK"),
    Outcome.PAUSED: (200, "OK (the monitor is paused: this ping was ignored)"),
    Outcome.UNKNOWN: (404, "Not found: no heartbeat monitor has this ping URL"),
}


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def ping(request: HttpRequest, token: str, signal: str = Signal.SUCCESS) -> HttpResponse:
    for throttle in (PingAddressThrottle(), PingTokenThrottle(token)):
        if not throttle.allow_request(request, None):
            return _too_many(throttle.wait())
    if len(token) > MAX_TOKEN_LENGTH:
        outcome = Outcome.UNKNOWN
    else:
        message = _failure_text(request) if signal == Signal.FAIL else ""
        outcome = ping_receive(token=token, signal=Signal(signal), message=message)
    status, text = ANSWERS[outcome]
    return _text(text, status)


def _failure_text(request: HttpRequest) -> str:
    """The body of a /fail ping as one line of visible text (the job's own words)."""
    raw = request.read(MAX_BODY_READ).decode("utf-8", errors="replace")
    visible = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in raw)
    return " ".join(visible.split())


def _too_many(wait: float | None) -> HttpResponse:
    response = _text("Too many pings; slow down.", 429)
    response["Retry-After"] = str(max(1, math.ceil(wait or 1)))
    return response


def _text(text: str, status: int) -> HttpResponse:
    response = HttpResponse(f"{text}\n", status=status, content_type="text/plain; charset=utf-8")
    # A cached answer would be a ping that never arrives.
    response["Cache-Control"] = "no-store"
    return response
