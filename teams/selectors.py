"""Reads of projects and memberships, always as some user sees them.

Views, the API, commands and pages read owned objects only through selectors
like these (and sites.selectors): a project the user is not a member of does
not exist for them, so every route answers it with a 404, never a 403.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from teams.models import AuditEvent, Membership, Project, Role


def project_list(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """The projects the user is a member of."""
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user)


def project_ids(*, user: AbstractBaseUser) -> QuerySet:
    """The ids of the user's projects, as a subquery for other selectors."""
    return Membership.objects.filter(user=user).values("project_id")


def project_get(*, user: AbstractBaseUser, project_id: int | str) -> Project:
    """One of the user's projects; Project.DoesNotExist for any other id."""
    text = str(project_id)
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise Project.DoesNotExist(f"No project has the id {text!r}.")
    return project_list(user=user).get(pk=int(text))


def role_of(*, user: AbstractBaseUser, project: Project | int) -> Role | None:
    """The user's role in the project, or None for a non-member."""
    if not user.is_authenticated:
        return None
    project_id = project.pk if isinstance(project, Project) else project
    role = (
        Membership.objects.filter(user=user, project_id=project_id)
        .values_list("role", flat=True)
        .first()
    )
    return Role(role) if role else None


def member_list(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("id")


def editable_project_ids(*, user: AbstractBaseUser) -> QuerySet:
    """The ids of the projects where the user may edit monitors (editor or above)."""
    roles = [role for role in Role if role.allows(Role.EDITOR)]
    return Membership.objects.filter(user=user, role__in=roles).values_list("project_id", flat=True)


def project_summaries(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """The user's projects with their role (`role`) and number of sites (`site_count`)."""
    from sites.models import Site  # sites depends on teams, not the other way round

    role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    sites = (
        Site.objects.filter(project=OuterRef("pk"))
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return project_list(user=user).annotate(
        role=Subquery(role), site_count=Coalesce(Subquery(sites), 0)
    )


AUDIT_PAGE_SIZE = 100


def audit_list(
    *, project: Project, before: int | None = None, limit: int = AUDIT_PAGE_SIZE
) -> list[AuditEvent]:
    """The project's events, newest first, with its current members' account events.

    Account events (logins, failed logins, tokens) have no project; those
    naming a project (a deleted one) are left out, so one project's log
    never shows another's.
    """
    members = Membership.objects.filter(project=project)
    account = (
        Q(project__isnull=True)
        & ~Q(action__startswith="project.")
        & (
            Q(actor__in=members.values("user"))
            | Q(actor__isnull=True, actor_name__in=members.values("user__username"))
        )
    )
    events = AuditEvent.objects.filter(Q(project=project) | account)
    if before is not None:
        events = events.filter(pk__lt=before)
    return list(events.order_by("-id")[:limit])
