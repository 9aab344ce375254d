"""Writes to projects and memberships: the one path for the API, the pages and the commands.

Callers find the project through a selector first (a non-member gets a 404);
these functions then check the actor's role (PermissionDenied, a 403), apply
the rule (ValidationError, a 400) and record the change in the audit log.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest

from sites.services import site_delete
from teams.access import Action, require
from teams.audit import AuditAction, audit_record
from teams.invitations import invitation_create, invitation_revoke
from teams.models import Invitation, Membership, Project, Role
from teams.selectors import role_of
from uptime.text import validate_display_name

PERSONAL_PROJECT_KEPT = (
    "A personal project cannot be deleted while its user has an account; "
    "delete its sites instead, or delete the account."
)
LAST_OWNER = "A project keeps at least one owner: make another member owner first."
ONLY_OWNERS_MAKE_OWNERS = "Only an owner may make an owner or change an owner's role."


def project_create(
    *, user: AbstractBaseUser, name: str, request: HttpRequest | None = None
) -> Project:
    """A new project, with its creator as owner."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["A project needs a name."]})
    _check_name(name)
    with transaction.atomic():
        project = Project.objects.create(name=name[:200])
        Membership.objects.create(user=user, project=project, role=Role.OWNER)
        audit_record(
            action=AuditAction.PROJECT_CREATED,
            actor=user,
            project=project,
            target=project,
            request=request,
        )
    return project


def _check_name(name: str) -> None:
    try:
        validate_display_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None


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


def project_update(
    *,
    project: Project,
    actor: AbstractBaseUser,
    name: str | None = None,
    require_2fa: bool | None = None,
    request: HttpRequest | None = None,
) -> Project:
    """Rename the project or change its settings (admin or above)."""
    require(user=actor, project=project, action=Action.MANAGE_PROJECT)
    with transaction.atomic():
        if name is not None and name.strip() != project.name:
            if not name.strip():
                raise ValidationError({"name": ["A project needs a name."]})
            _check_name(name.strip())
            old, project.name = project.name, name.strip()[:200]
            project.save(update_fields=["name"])
            audit_record(
                action=AuditAction.PROJECT_RENAMED,
                actor=actor,
                project=project,
                target=project,
                detail={"from": old, "to": project.name},
                request=request,
            )
        if require_2fa is not None and require_2fa != project.require_2fa:
            project.require_2fa = require_2fa
            project.save(update_fields=["require_2fa"])
            audit_record(
                action=AuditAction.PROJECT_SETTINGS_CHANGED,
                actor=actor,
                project=project,
                target=project,
                detail={"require2fa": require_2fa},
                request=request,
            )
    return project


def project_delete(
    *, project: Project, actor: AbstractBaseUser, request: HttpRequest | None = None
) -> None:
    """Delete the project (owners only) with its sites, memberships and invitations."""
    require(user=actor, project=project, action=Action.OWN_PROJECT)
    if project.personal_of_id is not None:
        raise ValidationError(PERSONAL_PROJECT_KEPT)
    with transaction.atomic():
        # Recorded without the project: its own events are deleted with it.
        audit_record(
            action=AuditAction.PROJECT_DELETED,
            actor=actor,
            target=project,
            detail={"sites": project.sites.count()},
            request=request,
        )
        # Each site through the one delete path, so its history goes in SQL
        # rather than through Django's cascade (which loads every check).
        for site in project.sites.all():
            site_delete(site=site, actor=actor, request=request)
        project.delete()


def project_transfer(
    *,
    project: Project,
    actor: AbstractBaseUser,
    user: AbstractBaseUser,
    request: HttpRequest | None = None,
) -> Membership:
    """Make a member owner; the owner who hands over becomes an admin."""
    require(user=actor, project=project, action=Action.OWN_PROJECT)
    with transaction.atomic():
        _lock(project)
        membership = Membership.objects.get(project=project, user=user)
        if membership.user_id == actor.pk:
            return membership
        membership.role = Role.OWNER
        membership.save(update_fields=["role"])
        Membership.objects.filter(project=project, user=actor).update(role=Role.ADMIN)
        audit_record(
            action=AuditAction.PROJECT_TRANSFERRED,
            actor=actor,
            project=project,
            target=membership.user,
            detail={"from": actor.get_username(), "to": membership.user.get_username()},
            request=request,
        )
    return membership


def member_add(
    *,
    project: Project,
    actor: AbstractBaseUser,
    user: AbstractBaseUser,
    role: Role | str,
    request: HttpRequest | None = None,
) -> Membership:
    """Add an existing account to the project (admin or above; owners only as owner)."""
    role = _role(role)
    require(user=actor, project=project, action=Action.MANAGE_PROJECT)
    if role == Role.OWNER:
        require(user=actor, project=project, action=Action.OWN_PROJECT)
    with transaction.atomic():
        _lock(project)
        if Membership.objects.filter(project=project, user=user).exists():
            raise ValidationError({"user": [f"{user.get_username()} is a member already."]})
        membership = Membership.objects.create(project=project, user=user, role=role)
        audit_record(
            action=AuditAction.MEMBER_ADDED,
            actor=actor,
            project=project,
            target=user,
            detail={"role": role.value},
            request=request,
        )
    return membership


def member_add_or_invite(
    *,
    project: Project,
    actor: AbstractBaseUser,
    role: Role | str,
    base_url: str,
    username: str = "",
    email: str = "",
    request: HttpRequest | None = None,
) -> Membership | Invitation:
    """Add the account with this username or email at once, or invite an unknown email.

    Returns the new Membership, or the Invitation that was emailed.
    """
    if bool(username) == bool(email):
        raise ValidationError("Give a username or an email address, not both.")
    users = get_user_model().objects.filter(is_active=True)
    if username:
        user = users.filter(username=username).first()
        if user is None:
            raise ValidationError({"username": [f"No account is named {username!r}."]})
    else:
        matches = list(users.filter(email__iexact=email.strip())[:2])
        if len(matches) > 1:
            raise ValidationError(
                {"email": ["Several accounts have this email address: give a username."]}
            )
        if not matches:
            invitation, _ = member_invite(
                project=project,
                actor=actor,
                email=email,
                role=role,
                base_url=base_url,
                request=request,
            )
            return invitation
        user = matches[0]
    return member_add(project=project, actor=actor, user=user, role=role, request=request)


def member_set_role(
    *,
    project: Project,
    actor: AbstractBaseUser,
    user: AbstractBaseUser,
    role: Role | str,
    request: HttpRequest | None = None,
) -> Membership:
    """Change a member's role (admin or above).

    Making someone owner is a transfer (project_transfer). Only owners change
    an owner's role, and the last owner cannot step down.
    Membership.DoesNotExist if the user is not a member.
    """
    role = _role(role)
    require(user=actor, project=project, action=Action.MANAGE_PROJECT)
    if role == Role.OWNER:
        if role_of(user=actor, project=project) != Role.OWNER:
            raise PermissionDenied(ONLY_OWNERS_MAKE_OWNERS)
        return project_transfer(project=project, actor=actor, user=user, request=request)
    with transaction.atomic():
        _lock(project)
        membership = Membership.objects.select_related("user").get(project=project, user=user)
        old = Role(membership.role)
        if old == role:
            return membership
        if old == Role.OWNER:
            _require_owner(actor, project)
            _keep_an_owner(project, leaving=membership)
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            action=AuditAction.MEMBER_ROLE_CHANGED,
            actor=actor,
            project=project,
            target=membership.user,
            detail={"from": old.value, "to": role.value},
            request=request,
        )
    return membership


def member_remove(
    *,
    project: Project,
    actor: AbstractBaseUser,
    user: AbstractBaseUser,
    request: HttpRequest | None = None,
) -> None:
    """Remove a member (admin or above, or any member leaving); never the last owner.

    Membership.DoesNotExist if the user is not a member.
    """
    if user.pk != actor.pk:
        require(user=actor, project=project, action=Action.MANAGE_PROJECT)
    with transaction.atomic():
        _lock(project)
        membership = Membership.objects.select_related("user").get(project=project, user=user)
        if membership.role == Role.OWNER:
            if user.pk != actor.pk:
                _require_owner(actor, project)
            _keep_an_owner(project, leaving=membership)
        membership.delete()
        audit_record(
            action=AuditAction.MEMBER_REMOVED,
            actor=actor,
            project=project,
            target=membership.user,
            detail={"role": membership.role},
            request=request,
        )


def member_invite(
    *,
    project: Project,
    actor: AbstractBaseUser,
    email: str,
    role: Role | str,
    base_url: str,
    request: HttpRequest | None = None,
) -> tuple[Invitation, str]:
    """Email an invitation to join the project (admin or above); never as owner."""
    role = _role(role)
    require(user=actor, project=project, action=Action.MANAGE_PROJECT)
    invitation, key = invitation_create(
        project=project, email=email, role=role, invited_by=actor, base_url=base_url
    )
    audit_record(
        action=AuditAction.INVITATION_SENT,
        actor=actor,
        project=project,
        target=invitation,
        detail={"email": invitation.email, "role": role.value},
        request=request,
    )
    return invitation, key


def invitation_withdraw(
    *, invitation: Invitation, actor: AbstractBaseUser, request: HttpRequest | None = None
) -> None:
    """Revoke an invitation (admin or above): its link stops working.

    An accepted invitation is history (who joined, invited by whom): it stays,
    and the member is removed instead.
    """
    require(user=actor, project=invitation.project_id, action=Action.MANAGE_PROJECT)
    if invitation.accepted_at is not None:
        raise ValidationError(
            "This invitation has been accepted already; remove the member instead."
        )
    with transaction.atomic():
        audit_record(
            action=AuditAction.INVITATION_REVOKED,
            actor=actor,
            project=invitation.project,
            target=invitation,
            detail={"email": invitation.email, "role": invitation.role},
            request=request,
        )
        invitation_revoke(invitation=invitation)


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise ValidationError({"role": [f"{value!r} is not a role; choose {choices}."]}) from None


def _lock(project: Project) -> None:
    # Membership changes of one project queue behind this row lock, so two
    # owners demoting each other at once cannot leave it without an owner.
    Project.objects.select_for_update().filter(pk=project.pk).first()


def _require_owner(actor: AbstractBaseUser, project: Project) -> None:
    if role_of(user=actor, project=project) != Role.OWNER:
        raise PermissionDenied(ONLY_OWNERS_MAKE_OWNERS)


def _keep_an_owner(project: Project, *, leaving: Membership) -> None:
    owners = Membership.objects.filter(project=project, role=Role.OWNER).exclude(pk=leaving.pk)
    if not owners.exists():
        raise ValidationError(LAST_OWNER)
