"""Sign-in events into the audit log, and invitations accepted by the sign-up they allowed."""

from allauth.account.signals import password_changed, password_reset, user_signed_up
from allauth.mfa.signals import authenticator_added, authenticator_removed
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import ValidationError
from django.dispatch import receiver

from accounts.adapter import INVITATION_SESSION_KEY, pending_invitation
from teams.audit import audit_record
from teams.invitations import invitation_accept


@receiver(user_logged_in, dispatch_uid="accounts-audit-login")
def audit_login(sender, request, user, **kwargs) -> None:
    audit_record(action="account.login", actor=user, request=request)


@receiver(user_logged_out, dispatch_uid="accounts-audit-logout")
def audit_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(action="account.logout", actor=user, request=request)


@receiver(user_login_failed, dispatch_uid="accounts-audit-login-failed")
def audit_login_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    # Django has already masked the password; what remains is what was typed.
    typed = credentials.get("username") or credentials.get("email") or ""
    audit_record(action="account.login_failed", actor_name=str(typed)[:150], request=request)


@receiver(password_changed, dispatch_uid="accounts-audit-password-changed")
def audit_password_changed(sender, request, user, **kwargs) -> None:
    audit_record(action="account.password_changed", actor=user, request=request)


@receiver(password_reset, dispatch_uid="accounts-audit-password-reset")
def audit_password_reset(sender, request, user, **kwargs) -> None:
    audit_record(action="account.password_reset", actor=user, request=request)


@receiver(authenticator_added, dispatch_uid="accounts-audit-2fa-added")
def audit_2fa_added(sender, request, user, authenticator, **kwargs) -> None:
    audit_record(
        action="account.2fa_enabled",
        actor=user,
        request=request,
        detail={"type": authenticator.type},
    )


@receiver(authenticator_removed, dispatch_uid="accounts-audit-2fa-removed")
def audit_2fa_removed(sender, request, user, authenticator, **kwargs) -> None:
    audit_record(
        action="account.2fa_disabled",
        actor=user,
        request=request,
        detail={"type": authenticator.type},
    )


@receiver(user_signed_up, dispatch_uid="accounts-accept-invitation")
def accept_invitation_on_sign_up(sender, request, user, **kwargs) -> None:
    """An account made from an invitation page (password or SSO) joins its project."""
    invitation = pending_invitation(request)
    if invitation is None:
        return
    request.session.pop(INVITATION_SESSION_KEY, None)
    try:
        invitation_accept(invitation=invitation, user=user)
    except ValidationError:  # accepted meanwhile from another tab; the account stays
        return
    messages.success(request, f"You joined {invitation.project.name}.")
