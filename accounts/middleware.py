"""Two-factor login set up before anything else: by members of a project that
requires it, and by anyone opening the admin (UPTIME_ADMIN_REQUIRES_2FA)."""

from collections.abc import Callable

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from teams.models import Membership

MESSAGE = "A project you belong to requires two-factor authentication; set it up first."
ADMIN_MESSAGE = "The admin requires two-factor authentication; set it up first."


def two_factor_required(user) -> bool:
    """Whether the user belongs to a project with require_2fa and has no second factor yet."""
    if not Membership.objects.filter(user=user, project__require_2fa=True).exists():
        return False
    return not is_mfa_enabled(user)


def admin_needs_two_factor(request: HttpRequest) -> bool:
    """Whether this is a staff user without a second factor opening the admin.

    The admin can read and change everything; a stolen password alone must
    not open it.
    """
    return (
        settings.UPTIME_ADMIN_REQUIRES_2FA
        and request.user.is_staff
        and request.path.startswith(reverse("admin:index"))
        and not is_mfa_enabled(request.user)
    )


class TwoFactorRequiredMiddleware:
    """Sends a signed-in member of a require_2fa project to the TOTP setup page.

    It looks at the session's user only: API calls with a token carry no
    session and are not affected (a token is its own credential, revocable on
    the user's page). Session calls to the API get a 403 naming the reason.
    The account pages (allauth's, under /accounts/) and logging out stay open,
    so the way out of the redirect is always reachable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and not self._exempt(request.path):
            if two_factor_required(request.user):
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": MESSAGE}, status=403)
                if request.headers.get("HX-Request"):
                    # An htmx poll must not swap the setup page into the site list.
                    response = HttpResponse(status=401)
                    response["HX-Redirect"] = reverse("mfa_activate_totp")
                    return response
                return redirect("mfa_activate_totp")
            if admin_needs_two_factor(request):
                messages.warning(request, ADMIN_MESSAGE)
                return redirect("mfa_activate_totp")
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        open_paths = ("/accounts/", reverse("logout"), "/" + settings.STATIC_URL.lstrip("/"))
        return path.startswith(open_paths) or path == reverse("healthz")
