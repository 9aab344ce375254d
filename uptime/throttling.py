"""API throttles whose rates come from settings (UPTIME_API_RATE_*, UPTIME_PROBE_RATE).

DRF binds DEFAULT_THROTTLE_RATES when rest_framework.throttling is imported;
reading Django settings on each request keeps the rate where settings say.
"""

from django.conf import settings
from django.http import HttpRequest
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, Throttled
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, UserRateThrottle


class UserThrottle(UserRateThrottle):
    def get_rate(self) -> str:
        return settings.UPTIME_API_RATE_USER


class AnonThrottle(AnonRateThrottle):
    def get_rate(self) -> str:
        return settings.UPTIME_API_RATE_ANON


class ProbeThrottle(UserRateThrottle):
    """ "Ping" and "check now" per user (UPTIME_PROBE_RATE): each holds a web thread."""

    scope = "probe"

    def get_rate(self) -> str:
        return settings.UPTIME_PROBE_RATE


def throttle_refused_credentials(exc: Exception, request: Request | None, view) -> Exception:
    """The anonymous rate also applies to requests refused for lack of valid credentials.

    DRF checks permissions before throttles, so on routes that need a login an
    anonymous caller is answered 401 before AnonThrottle runs, and someone
    guessing tokens would never be slowed down. Counting those answers here
    turns the 61st guess a minute into a 429 with Retry-After.
    """
    if request is None or not isinstance(exc, NotAuthenticated | AuthenticationFailed):
        return exc
    throttle = AnonThrottle()
    if throttle.allow_request(request, view):
        return exc
    return Throttled(wait=throttle.wait())


def client_address(request: HttpRequest) -> str:
    """The caller's address, by the API throttles' rule (UPTIME_NUM_PROXIES).

    Sign-in limits (accounts.adapter) and the audit log use it too, so one
    client is one address everywhere.
    """
    return BaseThrottle().get_ident(request)
