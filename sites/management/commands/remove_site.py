"""`manage.py remove_site <id|url>`: stop monitoring a site and delete its history."""

from django.core.management.base import BaseCommand, CommandError

from monitor.packing import packed_count
from sites.cli import add_project_option, site_for_command
from sites.models import Site
from sites.services import site_delete


class Command(BaseCommand):
    help = (
        "Stop monitoring a site and delete it with its checks and status changes. "
        "To pause a site and keep its history, use `manage.py pause_site` instead."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "site", metavar="ID_OR_URL", help="The site's id, or its URL as it was added."
        )
        add_project_option(parser)

    def handle(self, *args, site: str, project: str | None, **options) -> None:
        found = site_for_command(site, project_id=project)
        site_id, checks = found.id, found.checks.count() + packed_count(site_id=found.id)
        try:
            site_delete(site=found)  # clears found.id, hence site_id above
        except Site.DoesNotExist:
            raise CommandError(f"Site {site_id} was removed meanwhile.") from None
        history = f"{checks} check{'' if checks == 1 else 's'}"
        self.stdout.write(
            self.style.SUCCESS(f"Removed site {site_id}: {found.url} and its {history}.")
        )
