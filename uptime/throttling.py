"""API throttles whose rates come from settings (UPTIME_API_RATE_*, UPTIME_PROBE_RATE),
and the API's part in the failed-attempt policy (accounts.limits).

DRF binds DEFAULT_THROTTLE_RATES when rest_framework.throttling is imported;
reading Django settings on each request keeps the rate where settings say.
"""

import hashlib

from django.conf import settings
from django.http import HttpRequest
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, Throttled
from rest_framework.request import Request
from rest_framework.throttling import (
    AnonRateThrottle,
    BaseThrottle,
    SimpleRateThrottle,
    UserRateThrottle,
)

from accounts.limits import address_key, failure_counted, lockout_message, seconds_locked_out


class _ByClientKey:
    """Anonymous callers are counted per client_key: an IPv6 /64 is one caller."""

    def get_ident(self, request: HttpRequest) -> str:
        return client_key(request)


class UserThrottle(_ByClientKey, UserRateThrottle):
    def get_rate(self) -> str:
        return settings.UPTIME_API_RATE_USER


class AnonThrottle(_ByClientKey, AnonRateThrottle):
    def get_rate(self) -> str:
        return settings.UPTIME_API_RATE_ANON


class ProbeThrottle(_ByClientKey, UserRateThrottle):
    """ "Ping" and "check now" per user (UPTIME_PROBE_RATE): each holds a web thread."""

    scope = "probe"

    def get_rate(self) -> str:
        return settings.UPTIME_PROBE_RATE


class LockedOutAddress(Throttled):
    default_detail = "Too many failed attempts."


def throttle_refused_credentials(exc: Exception, request: Request | None, view) -> Exception:
    """Refused credentials count: a wrong token as a failed attempt, none as an anonymous call.

    DRF checks permissions before throttles, so on routes that need a login an
    anonymous caller is answered 401 before AnonThrottle runs, and someone
    guessing tokens would never be slowed down. A token that does not work
    counts against the address in the failed-attempt policy (FailureLimitGate
    refuses the address once it is full); no credentials at all count against
    the anonymous rate.
    """
    if request is None:
        return exc
    if isinstance(exc, AuthenticationFailed):
        if failure_counted(request) is not None:
            return exc
        wait = seconds_locked_out(request)
        return LockedOutAddress(wait=wait, detail=lockout_message(wait))
    if isinstance(exc, NotAuthenticated):
        throttle = AnonThrottle()
        if throttle.allow_request(request, view):
            return exc
        return Throttled(wait=throttle.wait())
    return exc


def client_address(request: HttpRequest) -> str:
    """The caller's full address, by the API throttles' rule (UPTIME_NUM_PROXIES).

    The audit log records it; limits count client_key.
    """
    return BaseThrottle().get_ident(request)


def client_key(request: HttpRequest) -> str:
    """The caller as every limit counts it: client_address, IPv6 grouped by /64."""
    return address_key(client_address(request))


# --- heartbeat pings (monitor.heartbeat_views) ---------------------------------------


class PingAddressThrottle(_ByClientKey, SimpleRateThrottle):
    """Heartbeat pings per address (UPTIME_PING_RATE_ADDRESS), known tokens or not:
    guessing ping URLs is slowed down like any other anonymous call."""

    scope = "ping-address"

    def get_rate(self) -> str:
        return settings.UPTIME_PING_RATE_ADDRESS

    def get_cache_key(self, request: HttpRequest, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PingTokenThrottle(SimpleRateThrottle):
    """Heartbeat pings per ping URL (UPTIME_PING_RATE_TOKEN): a job stuck in a
    loop cannot fill the checks table. The key holds a digest, not the secret."""

    scope = "ping-token"

    def __init__(self, token: str) -> None:
        self.token_digest = hashlib.sha256(token.encode()).hexdigest()[:32]
        super().__init__()

    def get_rate(self) -> str:
        return settings.UPTIME_PING_RATE_TOKEN

    def get_cache_key(self, request: HttpRequest, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.token_digest}
