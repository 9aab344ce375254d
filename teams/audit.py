"""The audit log: one function writes it, whatever was done and from where."""

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.http import HttpRequest

from teams.models import AuditEvent, Project
from uptime.throttling import client_address


class AuditAction(StrEnum):
    """What an audit event records; stored as its value."""

    SITE_CREATED = "site.created"
    SITE_CHANGED = "site.changed"
    SITE_PAUSED = "site.paused"
    SITE_RESUMED = "site.resumed"
    SITE_DELETED = "site.deleted"
    PROJECT_CREATED = "project.created"
    PROJECT_RENAMED = "project.renamed"
    PROJECT_SETTINGS_CHANGED = "project.settings_changed"
    PROJECT_DELETED = "project.deleted"
    PROJECT_TRANSFERRED = "project.transferred"
    MEMBER_ADDED = "member.added"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    INVITATION_SENT = "invitation.sent"
    INVITATION_REVOKED = "invitation.revoked"
    INVITATION_ACCEPTED = "invitation.accepted"
    TOKEN_CREATED = "token.created"  # noqa: S105 (an action name, not a secret)
    TOKEN_REVOKED = "token.revoked"  # noqa: S105
    MAINTENANCE_CREATED = "maintenance.created"
    MAINTENANCE_CHANGED = "maintenance.changed"
    MAINTENANCE_DELETED = "maintenance.deleted"
    CHANNEL_CREATED = "channel.created"
    CHANNEL_CHANGED = "channel.changed"
    CHANNEL_DELETED = "channel.deleted"
    STATUS_PAGE_CREATED = "status_page.created"
    STATUS_PAGE_CHANGED = "status_page.changed"
    STATUS_PAGE_DELETED = "status_page.deleted"
    STATUS_INCIDENT_CREATED = "status_incident.created"
    STATUS_INCIDENT_CHANGED = "status_incident.changed"
    STATUS_INCIDENT_DELETED = "status_incident.deleted"


def audit_record(
    *,
    action: str,
    actor: AbstractBaseUser | None = None,
    actor_name: str = "",
    project: Project | None = None,
    target: models.Model | None = None,
    detail: dict | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(
        project=project,
        actor=actor,
        actor_name=actor_name or (actor.get_username() if actor else ""),
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:300] if target is not None else "",
        detail=detail or {},
        address=_address(request),
    )


def _address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return client_address(request) or None
