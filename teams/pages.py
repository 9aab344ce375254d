"""The project and account pages: thin views over teams.selectors and teams.services.

A project the user is not a member of answers 404 (teams.selectors); a write
their role forbids answers 403 (teams.services and teams.access raise
PermissionDenied). Rule errors (the last owner, a personal project) come back
as messages on the page.
"""

import smtplib

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sites.views import dashboard_login_required
from teams import services
from teams.access import Action, can, require
from teams.forms import InviteForm, ProjectForm, ProjectSettingsForm, RoleForm, TokenForm
from teams.models import ApiToken, Invitation, Membership, Project, Role
from teams.selectors import member_list, project_get, project_list, role_of
from teams.tokens import token_create, token_revoke

# Where the auth pages live (django-allauth's account and MFA URLs).
PASSWORD_CHANGE_PATH = "/accounts/password/change/"  # noqa: S105 (a URL, not a password)
TWO_FACTOR_PATH = "/accounts/2fa/"


def project_or_404(request: HttpRequest, pk: int, *, action: Action = Action.READ) -> Project:
    """The project of a page's URL: 404 unless the user is a member, 403 unless the role allows."""
    try:
        project = project_get(user=request.user, project_id=pk)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None
    if action != Action.READ:
        require(user=request.user, project=project, action=action)
    return project


def _error(request: HttpRequest, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


# --- Projects ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def projects(request: HttpRequest) -> HttpResponse:
    """The user's projects with their role, and a form to create one."""
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(
                user=request.user, name=form.cleaned_data["name"], request=request
            )
        except ValidationError as exc:
            form.add_error("name", exc.message_dict.get("name", exc.messages))
        else:
            messages.success(request, f"Created {project.name}. Invite its members here.")
            return redirect("project_members", project.pk)
    roles = dict(Membership.objects.filter(user=request.user).values_list("project_id", "role"))
    rows = [
        (project, Role(roles[project.pk]))
        for project in project_list(user=request.user).order_by("name", "id")
    ]
    return render(request, "teams/projects.html", {"rows": rows, "form": form})


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def project_settings(request: HttpRequest, pk: int) -> HttpResponse:
    project = project_or_404(request, pk, action=Action.MANAGE_PROJECT)
    form = ProjectSettingsForm(request.POST) if request.method == "POST" else None
    if form is not None and form.is_valid():
        try:
            services.project_update(
                project=project, actor=request.user, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, "Settings saved.")
            return redirect("project_settings", project.pk)
        project.refresh_from_db()
    context = {
        "project": project,
        "form": form or ProjectSettingsForm.of(project),
        "is_owner": can(user=request.user, project=project, action=Action.OWN_PROJECT),
    }
    return render(request, "teams/project_settings.html", context)


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def project_delete(request: HttpRequest, pk: int) -> HttpResponse:
    project = project_or_404(request, pk, action=Action.OWN_PROJECT)
    if request.method == "GET":
        context = {"project": project, "site_count": project.sites.count()}
        return render(request, "teams/project_confirm_delete.html", context)
    name = project.name
    try:
        services.project_delete(project=project, actor=request.user, request=request)
    except ValidationError as exc:
        _error(request, exc)
        return redirect("project_settings", project.pk)
    messages.success(request, f"Deleted {name} and its sites.")
    return redirect("projects")


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def project_leave(request: HttpRequest, pk: int) -> HttpResponse:
    project = project_or_404(request, pk)
    if request.method == "GET":
        return render(request, "teams/project_confirm_leave.html", {"project": project})
    try:
        services.member_remove(
            project=project, actor=request.user, user=request.user, request=request
        )
    except ValidationError as exc:
        _error(request, exc)
        return redirect("project_members", project.pk)
    messages.success(request, f"You left {project.name}.")
    return redirect("projects")


# --- Members and invitations -------------------------------------------------


@require_http_methods(["GET", "POST"])
@dashboard_login_required
def project_members(request: HttpRequest, pk: int) -> HttpResponse:
    """Every member sees who belongs; admins also change roles, remove and invite."""
    project = project_or_404(request, pk)
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        require(user=request.user, project=project, action=Action.MANAGE_PROJECT)
        if form.is_valid() and _invite(request, project, form):
            return redirect("project_members", project.pk)
    return render(request, "teams/project_members.html", _members_context(request, project, form))


def _invite(request: HttpRequest, project: Project, form: InviteForm) -> bool:
    try:
        # One transaction: an invitation whose email could not be sent is not kept.
        with transaction.atomic():
            added = services.member_add_or_invite(
                project=project,
                actor=request.user,
                role=form.cleaned_data["role"],
                base_url=request.build_absolute_uri("/"),
                request=request,
                **form.target(),
            )
    except (OSError, smtplib.SMTPException) as exc:
        form.add_error(None, f"The invitation email could not be sent ({exc}); nothing was saved.")
        return False
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            form.add_error("who", [m for ms in exc.message_dict.values() for m in ms])
        else:
            form.add_error("who", exc.messages)
        return False
    if isinstance(added, Invitation):
        messages.success(request, f"Invitation sent to {added.email}.")
    else:
        messages.success(request, f"Added {added.user.get_username()} as {added.role}.")
    return True


def _members_context(request: HttpRequest, project: Project, form: InviteForm) -> dict:
    role = role_of(user=request.user, project=project)
    manages = role.allows(Role.ADMIN)
    roles = [r for r in Role if r != Role.OWNER or role == Role.OWNER]
    return {
        "project": project,
        "members": member_list(project=project),
        "my_role": role,
        "manages": manages,
        "is_owner": role == Role.OWNER,
        "roles": roles,
        "form": form,
        "invitations": (
            project.invitations.filter(accepted_at__isnull=True).select_related("invited_by")
            if manages
            else []
        ),
    }


def _member_user_or_404(project: Project, user_id: int) -> AbstractBaseUser:
    membership = member_list(project=project).filter(user_id=user_id).first()
    if membership is None:
        raise Http404("No such member.")
    return membership.user


@require_POST
@dashboard_login_required
def member_role(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    project = project_or_404(request, pk, action=Action.MANAGE_PROJECT)
    member = _member_user_or_404(project, user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: viewer, editor, admin or owner.")
        return redirect("project_members", project.pk)
    try:
        services.member_set_role(
            project=project,
            actor=request.user,
            user=member,
            role=form.cleaned_data["role"],
            request=request,
        )
    except ValidationError as exc:
        _error(request, exc)
    except Membership.DoesNotExist:
        raise Http404("No such member.") from None
    else:
        messages.success(request, f"{member.get_username()} is now {form.cleaned_data['role']}.")
    return redirect("project_members", project.pk)


@require_POST
@dashboard_login_required
def member_remove(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    project = project_or_404(request, pk, action=Action.MANAGE_PROJECT)
    member = _member_user_or_404(project, user_id)
    try:
        services.member_remove(project=project, actor=request.user, user=member, request=request)
    except ValidationError as exc:
        _error(request, exc)
    except Membership.DoesNotExist:
        raise Http404("No such member.") from None
    else:
        messages.success(request, f"Removed {member.get_username()} from {project.name}.")
    return redirect("project_members", project.pk)


@require_POST
@dashboard_login_required
def invitation_revoke(request: HttpRequest, pk: int, invitation_id: int) -> HttpResponse:
    project = project_or_404(request, pk, action=Action.MANAGE_PROJECT)
    invitation = project.invitations.filter(pk=invitation_id, accepted_at__isnull=True).first()
    if invitation is None:
        raise Http404("No such invitation.")
    services.invitation_withdraw(invitation=invitation, actor=request.user, request=request)
    messages.success(request, f"Withdrew the invitation to {invitation.email}.")
    return redirect("project_members", project.pk)


# --- The user's page: tokens and account links -------------------------------


def _account_context(request: HttpRequest, form: TokenForm) -> dict:
    return {
        "tokens": ApiToken.objects.filter(user=request.user).order_by("-id"),
        "form": form,
        "projects": project_list(user=request.user).order_by("name", "id"),
        "password_change_path": PASSWORD_CHANGE_PATH,
        "two_factor_path": TWO_FACTOR_PATH,
    }


@require_GET
@dashboard_login_required
def account(request: HttpRequest) -> HttpResponse:
    return render(request, "teams/account.html", _account_context(request, TokenForm()))


@require_POST
@never_cache
@dashboard_login_required
def account_token_create(request: HttpRequest) -> HttpResponse:
    """Create a token and show its key on this response only (never cached, never stored)."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        return render(request, "teams/account.html", _account_context(request, form), status=400)
    token, key = token_create(
        user=request.user,
        name=form.cleaned_data["name"],
        read_only=form.cleaned_data["read_only"],
        expires_at=form.expires_at(),
        request=request,
    )
    return render(request, "teams/token_created.html", {"token": token, "key": key})


@require_POST
@dashboard_login_required
def account_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = ApiToken.objects.filter(user=request.user, pk=token_id).first()
    if token is None:
        raise Http404("No such token.")
    token_revoke(token=token, request=request)
    messages.success(request, f"Revoked {token.name}; its key no longer works.")
    return redirect("account")
