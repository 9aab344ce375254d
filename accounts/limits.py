"""The one policy for failed attempts to get in, whatever the way in.

Every entry point counts here: the login form (the admin signs in through it),
/setup, 2FA codes, API tokens, invitation links and the single sign-on
callback. What is counted, within UPTIME_LOGIN_WINDOW_MINUTES:

- failures per address (UPTIME_LOGIN_FAILURES_PER_IP), one counter shared by
  every entry point, so guessing in one place cannot continue in another;
- failures per username *and* address (UPTIME_LOGIN_FAILURES_PER_USER), so
  nobody elsewhere can lock an account's owner out by failing on purpose;
- failures per username from any address: past SLOWDOWN_FACTOR times the
  per-username limit, each further attempt waits 2, 4, 8 … seconds, at most
  SLOWDOWN_MAX_SECONDS. A slow-down, not a lockout: rotating addresses stops
  paying off, yet an attacker can hold an owner off for minutes, not hours.

A full counter is answered before any credential is checked: 429 with
Retry-After and "Too many failed attempts. Try again in N minutes." (JSON on
the API, uptime.throttling). An address is a client_key: IPv6 by /64.

allauth counts the first two itself for the login form and 2FA codes
(ACCOUNT_RATE_LIMITS["login_failed"], built by account_rate_limits); this
module reads the same counters through allauth's key scheme, so an allauth
upgrade that changes it fails tests/test_login_limits.py. No Django settings
are read at import: uptime.settings imports account_rate_limits.
"""

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable
from functools import wraps

from allauth.core.internal import ratelimit
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

APP = "allauth.account"
ACTION = "login_failed"
SLOWDOWN_FACTOR = 2
SLOWDOWN_MAX_SECONDS = 300
IPV6_PREFIX = 64


# --- the numbers ----------------------------------------------------------------


def account_rate_limits(
    *, failures_per_user: int, failures_per_ip: int, window_minutes: int
) -> dict:
    """ACCOUNT_RATE_LIMITS: the failure policy in allauth's words, and its other limits.

    "login_failed" is the policy above (allauth's "key" is the username typed
    at this address, accounts.adapter, or the account for 2FA codes). The
    other actions are allauth's defaults, written out so they are read here:
    password reset requests 20 a minute per address and 5 per address typed,
    sign-ups (open or by invitation) 20 a minute per address.
    """
    window = f"{window_minutes}m"
    return {
        ACTION: f"{failures_per_ip}/{window}/ip,{failures_per_user}/{window}/key",
        "login": "30/m/ip",
        "reset_password": "20/m/ip,5/m/key",
        "reset_password_from_key": "20/m/ip",
        "signup": "20/m/ip",
        "change_password": "5/m/user",
        "reauthenticate": "10/m/user",
    }


def _rate_parts(per: str) -> str:
    """The "login_failed" rates counted per `per` ("ip" or "key"), as allauth's string."""
    from allauth.account import app_settings

    configured = app_settings.RATE_LIMITS.get(ACTION) or ""
    parts = [part.strip() for part in configured.split(",") if part.strip()]
    return ",".join(part for part in parts if ratelimit.parse_rate(part).per == per)


def _rates(per: str) -> list[ratelimit.Rate]:
    return ratelimit.parse_rates(_rate_parts(per))


# --- whose attempt --------------------------------------------------------------


def address_key(address: str) -> str:
    """An address as the limits count it: IPv6 grouped by /64, anything else as is.

    One IPv6 subscriber holds a /64 at least, 2^64 addresses to rotate through.
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)


def attempt_key(request: HttpRequest, username: str, *, entry: str = "") -> str:
    """The per-username-and-address counter's key; `entry` keeps /setup's apart."""
    from uptime.throttling import client_key

    prefix = f"{entry}:" if entry else ""
    return f"{prefix}{username.strip().lower()}|{client_key(request)}"


# --- asking and counting ----------------------------------------------------------


def seconds_locked_out(
    request: HttpRequest, *, key: str | None = None, username: str | None = None
) -> int:
    """0 when this attempt may be checked; otherwise whole seconds until it may.

    Looks at the address's counter, the `key` counter when given, and the
    username's slow-down when given.
    """
    now = time.time()
    rates = _rates("ip") + (_rates("key") if key is not None else [])
    wait = 0.0
    for rate in rates:
        cache_key = ratelimit.get_cache_key(request, app=APP, action=ACTION, rate=rate, key=key)
        recent = [stamp for stamp in cache.get(cache_key, []) if stamp > now - rate.duration]
        if len(recent) >= rate.amount:
            # Newest first: a place frees up when the oldest failure leaves the window.
            wait = max(wait, recent[-1] + rate.duration - now)
    if username:
        wait = max(wait, _slowdown_wait(username, now))
    return math.ceil(wait)


def failure_counted(
    request: HttpRequest, *, key: str | None = None
) -> ratelimit.RateLimitUsage | None:
    """Count one attempt against the address (and `key`); None when a counter is full.

    Counted before the check, as allauth does for passwords; roll the usage
    back when the attempt succeeds.
    """
    parts = [_rate_parts("ip"), _rate_parts("key") if key is not None else ""]
    return ratelimit.consume(
        request,
        app=APP,
        action=ACTION,
        key=key,
        config={ACTION: ",".join(part for part in parts if part)},
        limit_get=True,
    )


def failures_forget(request: HttpRequest, *, key: str) -> None:
    """Forget the key's failures after a success; the address's stay, so one
    good account cannot be used to reset guessing at others, and so does the
    username's slow-down, so a guesser gains nothing when the owner signs in."""
    for rate in _rates("key"):
        cache.delete(ratelimit.get_cache_key(request, app=APP, action=ACTION, rate=rate, key=key))


# --- the slow-down per username, across addresses ------------------------------------


def _slowdown_key(username: str) -> str:
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    return f"uptime:slowdown:{digest}"


def _slowdown_rate() -> ratelimit.Rate | None:
    """Failures the username may have in the window before each attempt waits."""
    per_key = _rates("key")
    if not per_key:
        return None
    rate = per_key[0]
    return ratelimit.Rate(rate.amount * SLOWDOWN_FACTOR, rate.duration, "username")


def _slowdown_wait(username: str, now: float) -> float:
    rate = _slowdown_rate()
    if rate is None:
        return 0.0
    recent = [
        stamp for stamp in cache.get(_slowdown_key(username), []) if stamp > now - rate.duration
    ]
    beyond = len(recent) - rate.amount + 1
    if beyond < 1:
        return 0.0
    pause = min(2**beyond, SLOWDOWN_MAX_SECONDS)
    return max(0.0, recent[0] + pause - now)


def slowdown_failure(username: str) -> None:
    """Count one failure for this username, from whatever address."""
    rate = _slowdown_rate()
    if rate is None or not username.strip():
        return
    cache_key = _slowdown_key(username)
    with ratelimit.cache_lock(cache_key) as locked:
        # Without the lock (held elsewhere for over a second) the failure goes
        # uncounted rather than the request waiting.
        if locked:
            now = time.time()
            history = [stamp for stamp in cache.get(cache_key, []) if stamp > now - rate.duration]
            cache.set(cache_key, [now, *history], rate.duration)


# --- the answer -------------------------------------------------------------------


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed attempts. Try again in {minutes} {unit}."


def lockout_response(request: HttpRequest, seconds: int) -> HttpResponse:
    """The page for a locked-out attempt: 429, Retry-After and the message."""
    context = {"message": lockout_message(seconds)}
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(max(1, seconds))
    return response


def failures_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse a view to a locked-out address before it checks anything.

    For entry points whose failures are counted per address only (invitation
    links, the single sign-on callback); they count with failure_counted.
    """

    @wraps(view)
    def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        wait = seconds_locked_out(request)
        if wait:
            return lockout_response(request, wait)
        return view(request, *args, **kwargs)

    return limited
