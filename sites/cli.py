"""Naming sites on the command line: by id or URL, optionally within one project."""

from django.core.management.base import CommandError
from django.db.models import QuerySet

from sites.models import Site
from sites.services import site_find
from sites.targets import normalize_url
from teams.cli import project_for_command


def add_project_option(parser) -> None:
    parser.add_argument(
        "--project",
        metavar="ID",
        help="Only this project's sites (see `manage.py list_projects`).",
    )


def sites_for_command(project_id: str | None) -> QuerySet[Site]:
    """Every site, or one project's (CommandError for a project that does not exist)."""
    if project_id is None:
        return Site.objects.all()
    return Site.objects.filter(project=project_for_command(project_id=project_id, username=None))


def site_for_command(identifier: str, *, project_id: str | None, returncode: int = 1) -> Site:
    """The site with this id or URL; CommandError if none, or if several projects monitor it."""
    sites = sites_for_command(project_id)
    try:
        return site_find(identifier, sites=sites)
    except Site.DoesNotExist:
        raise CommandError(
            f"No site with id or URL {identifier!r}. See `manage.py list_sites`.",
            returncode=returncode,
        ) from None
    except Site.MultipleObjectsReturned:
        # Only a URL can name several sites, so it normalises.
        same = sites.filter(url=normalize_url(identifier.strip())).order_by("pk")
        ids = ", ".join(str(pk) for pk in same.values_list("pk", flat=True))
        raise CommandError(
            f"{identifier!r} is monitored in several projects (sites {ids}): "
            "give the site's id, or --project ID.",
            returncode=returncode,
        ) from None
