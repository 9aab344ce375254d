"""The audit log: one function writes it, whatever was done and from where."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.http import HttpRequest

from teams.models import AuditEvent, Project
from uptime.throttling import client_address


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
