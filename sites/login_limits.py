"""Limits on failed sign-ins, counted in Django's cache.

Two counters per failure: one for the username at this address (stops
guessing one account's password) and one for the address alone (stops trying
many usernames). Each counter lives for a fixed window from its first failure;
once either is full, sign-in answers "too many attempts" without checking the
password, until that window ends. A success clears its username's counter.
"""

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int


def client_address(request: HttpRequest) -> str:
    """The caller's address, by the same rule as the API throttles (UPTIME_NUM_PROXIES)."""
    return BaseThrottle().get_ident(request)


def login_counters(request: HttpRequest, username: str, *, scope: str = "login") -> list[Counter]:
    address = client_address(request)
    # Usernames are case-insensitive for a guesser's purpose, and hashing keeps
    # any text a client sends a valid cache key.
    user_id = _digest(f"{username.strip().lower()}|{address}")
    return [
        Counter(f"{scope}-fail:user:{user_id}", settings.UPTIME_LOGIN_FAILURES_PER_USER),
        Counter(f"{scope}-fail:ip:{_digest(address)}", settings.UPTIME_LOGIN_FAILURES_PER_IP),
    ]


def seconds_locked_out(counters: list[Counter]) -> int:
    """Seconds until every full counter's window ends; 0 when sign-in may be tried."""
    now = time.time()
    wait = 0.0
    for counter in counters:
        if (cache.get(counter.key) or 0) < counter.limit:
            continue
        # The recorded end, not only the key's expiry, decides: the cache may
        # keep a key a moment longer than its timeout.
        ends = cache.get(f"{counter.key}:ends")
        if ends is not None and ends > now:
            wait = max(wait, ends - now)
    return math.ceil(wait)


def failure_record(counters: list[Counter]) -> None:
    window = settings.UPTIME_LOGIN_WINDOW_MINUTES * 60
    ends = time.time() + window
    for counter in counters:
        # add() only sets a key that is absent, so the window runs from the
        # first failure; incr() is atomic in LocMemCache and Redis, so two
        # requests failing at once both count.
        cache.add(f"{counter.key}:ends", ends, window)
        cache.add(counter.key, 0, window)
        try:
            cache.incr(counter.key)
        except ValueError:  # expired between add() and incr()
            cache.set(counter.key, 1, window)


def success_record(counters: list[Counter]) -> None:
    """Forget the username's failures; the address's stay, so one good account
    cannot be used to reset guessing at others."""
    user_counter = counters[0]
    cache.delete_many([user_counter.key, f"{user_counter.key}:ends"])


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed attempts. Try again in {minutes} {unit}."


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
