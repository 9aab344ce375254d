"""How django-allauth fits Uptime: who may sign up, how failures are counted, whose address.

Settings point ACCOUNT_ADAPTER and SOCIALACCOUNT_ADAPTER here.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts.limits import (
    attempt_key,
    failure_counted,
    failures_forget,
    lockout_message,
    lockout_response,
    seconds_locked_out,
    slowdown_failure,
)
from teams.invitations import invitation_for_key
from uptime.throttling import client_address

# The invitation a visitor opened, kept in their session so the sign-up that
# follows (password or single sign-on) is allowed and joins its project.
INVITATION_SESSION_KEY = "uptime_invitation_key"
LOCKOUT = "too_many_login_attempts"


def pending_invitation(request: HttpRequest):
    key = request.session.get(INVITATION_SESSION_KEY) if hasattr(request, "session") else None
    return invitation_for_key(key) if key else None


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        LOCKOUT: "Too many failed attempts. Try again later.",
    }

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """Closed unless UPTIME_OPEN_SIGNUP, or the visitor holds a valid invitation."""
        return settings.UPTIME_OPEN_SIGNUP or pending_invitation(request) is not None

    def get_client_ip(self, request: HttpRequest) -> str:
        return client_address(request)

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials) -> str:
        # allauth counts failures per login across all addresses; counting per
        # login *and* address keeps the rule that nobody elsewhere can lock an
        # account's owner out by failing on purpose (accounts.limits).
        return attempt_key(request, _typed_login(credentials))

    def pre_authenticate(self, request: HttpRequest, **credentials) -> None:
        """Refuse before any password check while the policy says wait, saying for how long."""
        login = _typed_login(credentials)
        key = self._get_login_attempts_cache_key(request, **credentials)
        wait = seconds_locked_out(request, username=login)
        if not wait:
            try:
                super().pre_authenticate(request, **credentials)
                return
            except ValidationError:
                wait = seconds_locked_out(request, key=key, username=login)
        request.uptime_lockout_seconds = wait
        raise ValidationError(lockout_message(wait), code=LOCKOUT)

    def authenticate(self, request: HttpRequest, **credentials):
        user = super().authenticate(request, **credentials)
        if user is not None:
            failures_forget(request, key=self._get_login_attempts_cache_key(request, **credentials))
        return user

    def authentication_failed(self, request: HttpRequest, **credentials) -> None:
        slowdown_failure(_typed_login(credentials))


def _typed_login(credentials: dict) -> str:
    return credentials.get("email", credentials.get("username", "")) or ""


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin) -> bool:
        """Single sign-on may always create accounts.

        The operator chose the identity provider (UPTIME_OIDC_*), so whoever it
        vouches for may have an Uptime account, with open sign-up off; a new
        account owns only its personal project until invited to others.
        """
        return True

    def on_authentication_error(
        self, request: HttpRequest, provider, error=None, exception=None, extra_context=None
    ) -> None:
        """A failed or forged callback counts against the address (accounts.limits).

        The callback view refuses a locked-out address before this
        (uptime.urls); the failure that fills the counter is answered 429 too.
        """
        super().on_authentication_error(request, provider, error, exception, extra_context)
        if failure_counted(request) is None:
            raise ImmediateHttpResponse(lockout_response(request, seconds_locked_out(request)))
