"""How django-allauth fits Uptime: who may sign up, how failures are counted, whose address.

Settings point ACCOUNT_ADAPTER and SOCIALACCOUNT_ADAPTER here.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts.limits import failures_forget, lockout_message, seconds_locked_out
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
        # login *and* address keeps the old rule that nobody elsewhere can lock
        # an account's owner out by failing on purpose. The per-address
        # counter of the same rate limit still stops one address trying many.
        login = credentials.get("email", credentials.get("username", ""))
        return f"{login.strip().lower()}|{client_address(request)}"

    def pre_authenticate(self, request: HttpRequest, **credentials) -> None:
        """Refuse before any password check while a counter is full, saying for how long."""
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            key = self._get_login_attempts_cache_key(request, **credentials)
            wait = seconds_locked_out(request, key=key)
            request.uptime_lockout_seconds = wait
            raise ValidationError(lockout_message(wait), code=LOCKOUT) from None

    def authenticate(self, request: HttpRequest, **credentials):
        user = super().authenticate(request, **credentials)
        if user is not None:
            failures_forget(request, key=self._get_login_attempts_cache_key(request, **credentials))
        return user


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin) -> bool:
        """Single sign-on may always create accounts.

        The operator chose the identity provider (UPTIME_OIDC_*), so whoever it
        vouches for may have an Uptime account, with open sign-up off; a new
        account owns only its personal project until invited to others.
        """
        return True
