"""Reads of sites as a user sees them: only their projects' sites exist for them.

Views, the API, commands and pages read sites through these functions, never
through Site.objects, so another project's site answers 404 on every route.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from sites.models import MAX_DEPENDENCY_DEPTH, Site
from teams.access import Action, require
from teams.selectors import project_ids

MAX_ID_DIGITS = len(str(2**63 - 1))


def site_list(*, user: AbstractBaseUser, project_id: int | None = None) -> QuerySet[Site]:
    """The sites of the user's projects, or of one of them."""
    if not user.is_authenticated:
        return Site.objects.none()
    sites = Site.objects.filter(project_id__in=project_ids(user=user))
    if project_id is not None:
        sites = sites.filter(project_id=project_id)
    return sites


def site_get(*, user: AbstractBaseUser, site_id: int | str, action: Action = Action.READ) -> Site:
    """One of the user's sites; Site.DoesNotExist for any other id, however spelt.

    For an action beyond reading, the user's role in the site's project must
    allow it (PermissionDenied, a 403); found first, so a stranger gets a 404.
    """
    text = str(site_id)
    # isascii: str.isdigit() accepts "²", which int() refuses; a 64-bit id has
    # at most 19 digits.
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_ID_DIGITS:
        raise Site.DoesNotExist(f"No site has the id {text!r}.")
    site = site_list(user=user).get(pk=int(text))
    if action != Action.READ:
        require(user=user, project=site.project_id, action=action)
    return site


def dependents_count(site: Site) -> int:
    """How many monitors depend on this one, directly or through others."""
    total, frontier = 0, [site.pk]
    for _ in range(MAX_DEPENDENCY_DEPTH):
        children = list(
            Site.objects.filter(depends_on_id__in=frontier).values_list("pk", flat=True)
        )
        if not children:
            break
        total += len(children)
        frontier = children
    return total
