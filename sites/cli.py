"""Naming sites on the command line (by id, URL or target, optionally within one project)
and pausing them."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db.models import QuerySet

from sites.models import Site
from sites.services import site_find, site_update
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
        same = sites.filter(url__in=_spellings(identifier)).order_by("pk")
        ids = ", ".join(str(pk) for pk in same.values_list("pk", flat=True))
        raise CommandError(
            f"{identifier!r} is monitored in several projects (sites {ids}): "
            "give the site's id, or --project ID.",
            returncode=returncode,
        ) from None


def _spellings(identifier: str) -> list[str]:
    text = identifier.strip()
    try:
        return [text, normalize_url(text)]
    except ValidationError:
        return [text]


def set_paused(command, identifier: str, *, project_id: str | None, paused: bool) -> None:
    """pause_site and resume_site: one site by id or target, through sites.services."""
    site = site_for_command(identifier, project_id=project_id)
    label = f"{site.pk} ({site})" if str(site) else str(site.pk)
    if site.paused == paused:
        command.stdout.write(f"Site {label} is already {'paused' if paused else 'running'}.")
        return
    try:
        site_update(site=site, enabled=not paused)
    except Site.DoesNotExist:
        raise CommandError(f"Site {site.pk} was removed meanwhile.") from None
    except ValidationError as exc:
        # e.g. a site added before private addresses were refused.
        raise CommandError(f"Cannot resume site {label}: {' '.join(exc.messages)}") from None
    verb = "Paused" if paused else "Resumed"
    command.stdout.write(command.style.SUCCESS(f"{verb} site {label}."))


def add_site_argument(parser) -> None:
    parser.add_argument(
        "site", metavar="ID_OR_URL", help="The site's id, or its URL or target as it was added."
    )
