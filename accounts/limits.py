"""The failed-sign-in limit, counted by django-allauth (ACCOUNT_RATE_LIMITS["login_failed"]).

allauth keeps, per counter, the times of the recent failures in Django's
cache; a counter is full when it holds its limit within the window, and it
frees a place when its oldest failure leaves the window. The helpers here add
what Uptime promised before allauth: how long until a full counter frees up
(for the message and Retry-After) and forgetting a username's failures when
its password is right. They read allauth's internal key scheme, so an allauth
upgrade that changes it fails tests/accounts/test_login_limits.py.
"""

import math
import time

from allauth.core.internal import ratelimit
from django.core.cache import cache
from django.http import HttpRequest

APP = "allauth.account"
ACTION = "login_failed"


def failure_counted(request: HttpRequest, *, key: str) -> ratelimit.RateLimitUsage | None:
    """Count one attempt against the address and the key; None when a counter is full."""
    return ratelimit.consume(request, app=APP, action=ACTION, key=key)


def seconds_locked_out(request: HttpRequest, *, key: str) -> int:
    """Seconds until every full counter for this address and key has a free place."""
    now = time.time()
    wait = 0.0
    for rate in ratelimit.get_rates(app=APP, action=ACTION):
        cache_key = ratelimit.get_cache_key(request, app=APP, action=ACTION, rate=rate, key=key)
        recent = [stamp for stamp in cache.get(cache_key, []) if stamp > now - rate.duration]
        if len(recent) >= rate.amount:
            # Newest first: the place frees up when the oldest failure leaves the window.
            wait = max(wait, recent[-1] + rate.duration - now)
    return math.ceil(wait)


def failures_forget(request: HttpRequest, *, key: str) -> None:
    """Forget the key's failures; the address's stay, so one good account
    cannot be used to reset guessing at others."""
    key_rates = [rate for rate in ratelimit.get_rates(app=APP, action=ACTION) if rate.per == "key"]
    for rate in key_rates:
        cache.delete(ratelimit.get_cache_key(request, app=APP, action=ACTION, rate=rate, key=key))


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed attempts. Try again in {minutes} {unit}."
