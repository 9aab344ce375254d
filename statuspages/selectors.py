"""Reads of status pages as a member sees them: only their projects' pages exist for them.

The public pages read pages by slug or domain on their own (statuspages.public);
everything a member edits is found through these, so another project's page
answers 404 on every route.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, QuerySet
from django.urls import reverse

from statuspages.models import StatusIncident, StatusPage, StatusPageGroup, StatusPageMonitor
from teams.access import Action, require
from teams.selectors import project_ids

MAX_ID_DIGITS = len(str(2**63 - 1))


def _id(value: int | str) -> int | None:
    text = str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_ID_DIGITS:
        return None
    return int(text)


def status_page_list(
    *, user: AbstractBaseUser, project_id: int | None = None
) -> QuerySet[StatusPage]:
    """The pages of the user's projects, or of one of them."""
    if not user.is_authenticated:
        return StatusPage.objects.none()
    pages = StatusPage.objects.filter(project_id__in=project_ids(user=user))
    if project_id is not None:
        pages = pages.filter(project_id=project_id)
    return pages.select_related("project").defer("logo")


def status_page_get(
    *, user: AbstractBaseUser, page_id: int | str, action: Action = Action.READ
) -> StatusPage:
    """One of the user's pages; StatusPage.DoesNotExist for any other id, however spelt.

    Beyond reading, the user's role must allow the action (PermissionDenied);
    found first, so a stranger gets a 404, not a 403.
    """
    pk = _id(page_id)
    if pk is None:
        raise StatusPage.DoesNotExist(f"No status page has the id {page_id!r}.")
    page = status_page_list(user=user).get(pk=pk)
    if action != Action.READ:
        require(user=user, project=page.project_id, action=action)
    return page


def with_layout(pages: QuerySet[StatusPage]) -> QuerySet[StatusPage]:
    """The pages with their groups in order, each with its monitors (and sites) in order."""
    monitors = StatusPageMonitor.objects.select_related("site").order_by("position", "id")
    groups = StatusPageGroup.objects.order_by("position", "id").prefetch_related(
        Prefetch("monitors", monitors)
    )
    return pages.prefetch_related(Prefetch("groups", groups))


def status_page_reload(page: StatusPage) -> StatusPage:
    """The page as just written, with its layout, for an answer."""
    return with_layout(StatusPage.objects.select_related("project").defer("logo")).get(pk=page.pk)


def incident_list(*, page: StatusPage) -> QuerySet[StatusIncident]:
    """The page's incidents and announcements, newest first, with their updates and sites."""
    return page.incidents.prefetch_related("updates__created_by", "sites").order_by(
        "-created_at", "-id"
    )


def incident_get(*, page: StatusPage, incident_id: int | str) -> StatusIncident:
    """One of the page's incidents; StatusIncident.DoesNotExist for any other id."""
    pk = _id(incident_id)
    if pk is None:
        raise StatusIncident.DoesNotExist(f"No incident has the id {incident_id!r}.")
    incident = incident_list(page=page).get(pk=pk)
    incident.page = page
    return incident


def public_url(page: StatusPage) -> str:
    """Where the public reads the page on this installation."""
    return settings.UPTIME_BASE_URL.rstrip("/") + reverse("status-page", args=[page.slug])


def logo_url(page: StatusPage) -> str | None:
    """Where the public fetches the page's logo, or None without one."""
    if not page.logo_type:
        return None
    return settings.UPTIME_BASE_URL.rstrip("/") + reverse("status-page-logo", args=[page.slug])


def domain_url(page: StatusPage) -> str | None:
    """The page at its own domain (same scheme as the installation), or None."""
    if not page.custom_domain:
        return None
    scheme = urlsplit(settings.UPTIME_BASE_URL).scheme or "https"
    return f"{scheme}://{page.custom_domain}/"
