"""Security wiring for every response: headers, body size, session lifetime.

The values live in settings (the "Security" section of uptime/settings.py);
the README's security section says what each one is for.
"""

import logging
import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger(__name__)

CSP_HEADER = "Content-Security-Policy"
# Session keys: when the user signed in, and when a request last refreshed the expiry.
SESSION_STARTED = "_uptime_signed_in_at"
SESSION_SEEN = "_uptime_seen_at"
# The idle expiry is pushed forward at most this often: saving the session on
# every request (the dashboard polls every few seconds) would be a write each.
SEEN_PRECISION = 60


def csp_override(policy: str) -> Callable:
    """Serve a view under its own Content-Security-Policy instead of UPTIME_CSP.

    For third-party pages that cannot live under the strict one, such as the
    Swagger UI and Redoc bundles, which set inline styles as they render.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            response = view(request, *args, **kwargs)
            response[CSP_HEADER] = policy
            return response

        return wrapped

    return decorator


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every answer, and
    `Cache-Control: no-store` on the API and on pages that show secrets."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if CSP_HEADER not in response:
            response[CSP_HEADER] = settings.UPTIME_CSP
        if "Permissions-Policy" not in response:
            response["Permissions-Policy"] = settings.UPTIME_PERMISSIONS_POLICY
        if request.path.startswith(settings.UPTIME_NO_STORE_PATHS):
            if "no-store" not in response.get("Cache-Control", ""):
                response["Cache-Control"] = "no-store"
        return response


class BodySizeLimitMiddleware:
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE is answered 413 at once, in one log line.

    Django would raise RequestDataTooBig when the view reads it: an HTML
    "Bad Request (400)" and a full traceback in the log for each such request.
    """

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is None or length <= limit:
            return self.get_response(request)
        log.warning(
            "refused a %d-byte body for %s %s (the limit is %d bytes)",
            length,
            request.method,
            request.path,
            limit,
        )
        detail = f"The request body is {length} bytes; the limit is {limit} bytes."
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": detail}, status=413)
        else:
            response = HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
        # Logged above, with the sizes; django.request would add a second line.
        response._has_been_logged = True
        return response


class SessionLifetimeMiddleware:
    """Sign out after UPTIME_SESSION_IDLE_MINUTES without a request, and
    UPTIME_SESSION_MAX_HOURS after signing in, whatever the activity.

    The idle rule is the session's own expiry (SESSION_COOKIE_AGE), pushed
    forward by saving the session; the absolute one is checked here.
    """

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self._enforce(request)
        return self.get_response(request)

    def _enforce(self, request: HttpRequest) -> None:
        session = request.session
        now = int(time.time())
        started = session.setdefault(SESSION_STARTED, now)
        if now - started > settings.UPTIME_SESSION_MAX_HOURS * 3600:
            log.info("session of %s ended: signed in too long ago", request.user.get_username())
            logout(request)
            return
        if now - session.get(SESSION_SEEN, 0) >= SEEN_PRECISION:
            session[SESSION_SEEN] = now  # saved with a fresh expiry at the end of the request


def stamp_sign_in(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """user_logged_in receiver: the absolute session lifetime starts now."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SESSION_STARTED] = now
        request.session[SESSION_SEEN] = now
