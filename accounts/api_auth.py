"""API tokens under the failed-attempt policy (accounts.limits)."""

from rest_framework.request import Request

from accounts.limits import lockout_message, seconds_locked_out
from teams.tokens import ApiTokenAuthentication, ApiTokenScheme
from uptime.throttling import LockedOutAddress


class LimitedTokenAuthentication(ApiTokenAuthentication):
    """API tokens, not looked up for an address over the failed-attempt policy.

    Such an address gets 429 and Retry-After before any token lookup, the
    right token included, as the login form refuses the right password.
    Requests without an Authorization header are not affected: a browser's
    session was limited when it signed in. Wrong tokens are counted by
    uptime.throttling.throttle_refused_credentials.
    """

    def authenticate(self, request: Request):
        if "HTTP_AUTHORIZATION" in request.META:
            wait = seconds_locked_out(request)
            if wait:
                raise LockedOutAddress(wait=wait, detail=lockout_message(wait))
        return super().authenticate(request)


class LimitedTokenScheme(ApiTokenScheme):
    """The same "tokenAuth" scheme in the OpenAPI schema (drf-spectacular matches exact classes)."""

    target_class = LimitedTokenAuthentication
