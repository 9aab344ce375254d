"""Writes to projects and memberships: the one path for the API, the pages and the commands."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from teams.models import Membership, Project, Role
from uptime.text import validate_display_name


def project_create(*, user: AbstractBaseUser, name: str) -> Project:
    """A new project, with its creator as owner."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["A project needs a name."]})
    try:
        validate_display_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    with transaction.atomic():
        project = Project.objects.create(name=name[:200])
        Membership.objects.create(user=user, project=project, role=Role.OWNER)
    return project


def personal_project_ensure(*, user: AbstractBaseUser) -> Project:
    """The user's personal project, made on first need.

    The first account ever also adopts a project nobody belongs to: sites
    added with `manage.py add_site` before any account existed, or migrated
    from before projects existed.
    """
    with transaction.atomic():
        project = Project.objects.filter(personal_of=user).first()
        if project is not None:
            return project
        orphan = Project.objects.filter(memberships__isnull=True, personal_of__isnull=True).first()
        if orphan is not None and not Membership.objects.exclude(user=user).exists():
            orphan.personal_of = user
            orphan.save(update_fields=["personal_of"])
            project = orphan
        else:
            project = Project.objects.create(name=_personal_name(user), personal_of=user)
        Membership.objects.get_or_create(user=user, project=project, defaults={"role": Role.OWNER})
    return project


def _personal_name(user: AbstractBaseUser) -> str:
    return f"{user.get_username()}'s project"[:200]
