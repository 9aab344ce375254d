"""allauth's pages where Uptime answers a locked-out attempt its own way (accounts.limits)."""

from allauth.mfa.base.views import AuthenticateView
from allauth.socialaccount.providers.openid_connect.views import callback
from django.http import HttpResponse

from accounts.adapter import LOCKOUT
from accounts.limits import failures_limited, lockout_message, seconds_locked_out

# allauth's key for a user's 2FA code failures (allauth.mfa.base.internal.flows).
MFA_KEY = "mfa-auth-user-{pk}"


class TwoFactorAuthenticateView(AuthenticateView):
    """The second step of signing in; too many wrong codes answer 429 with Retry-After.

    allauth counts wrong codes as failed sign-ins ("login_failed", per address
    and per account) and shows its form error with status 200.
    """

    def form_invalid(self, form) -> HttpResponse:
        response = super().form_invalid(form)
        if any(error.code == LOCKOUT for error in form.errors.as_data().get("code", [])):
            key = MFA_KEY.format(pk=self.stage.login.user.pk)
            wait = max(1, seconds_locked_out(self.request, key=key))
            form.errors["code"] = form.error_class([lockout_message(wait)])
            response.status_code = 429
            response["Retry-After"] = str(wait)
        return response


two_factor_authenticate = TwoFactorAuthenticateView.as_view()

# The single sign-on callback: a locked-out address is refused before the
# provider's answer is looked at; failures count in SocialAccountAdapter.
sso_callback = failures_limited(callback)
