"""Invitations: an admin invites an email address to a project with a role.

The link carries a random key; only its SHA-256 is stored. Accepting needs a
signed-in account (a new one made on the invitation page, or single sign-on)
and makes it a member with the invited role, once.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from teams.audit import AuditAction, audit_record
from teams.models import Invitation, Membership, Project, Role
from teams.tokens import digest_of

INVITATION_DAYS = 7


def invitation_create(
    *, project: Project, email: str, role: Role, invited_by: AbstractBaseUser, base_url: str
) -> tuple[Invitation, str]:
    """Store an invitation and email its link; returns it and its key (for the link only)."""
    if role == Role.OWNER:
        raise ValidationError(
            {"role": ["Invite as admin, editor or viewer; transfer ownership later."]}
        )
    key = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        project=project,
        email=email.strip(),
        role=role,
        invited_by=invited_by,
        digest=digest_of(key),
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
    )
    link = base_url.rstrip("/") + reverse("invitation_accept", args=[key])
    context = {"invitation": invitation, "link": link, "days": INVITATION_DAYS}
    send_mail(
        subject=f"You are invited to {project.name} on Uptime",
        message=render_to_string("teams/invitation_email.txt", context),
        html_message=render_to_string("teams/invitation_email.html", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[invitation.email],
    )
    return invitation, key


def invitation_for_key(key: str) -> Invitation | None:
    """The usable invitation with this key, or None (unknown, used or expired)."""
    invitation = Invitation.objects.select_related("project").filter(digest=digest_of(key)).first()
    return invitation if invitation is not None and invitation.usable else None


def invitation_accept(
    *, invitation: Invitation, user: AbstractBaseUser, request: HttpRequest | None = None
) -> Membership:
    """Make the user a member with the invited role; an invitation is used once."""
    with transaction.atomic():
        # Conditional update: two tabs accepting at once make one membership.
        used = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
            accepted_at=timezone.now(), accepted_by=user
        )
        if not used:
            raise ValidationError("This invitation has been used already.")
        membership, _ = Membership.objects.get_or_create(
            user=user, project=invitation.project, defaults={"role": invitation.role}
        )
        audit_record(
            action=AuditAction.INVITATION_ACCEPTED,
            actor=user,
            project=invitation.project,
            target=invitation,
            detail={"email": invitation.email, "role": membership.role},
            request=request,
        )
    return membership


def invitation_revoke(*, invitation: Invitation) -> None:
    invitation.delete()
