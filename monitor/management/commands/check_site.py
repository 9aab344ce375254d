"""`manage.py check_site <id|url>`: check one site now and record the result."""

from django.core.management.base import BaseCommand, CommandError

from monitor.checking import check_site_now
from monitor.management.commands.ping import EXIT_BAD_INPUT, EXIT_DOWN, write_result
from monitor.net import PRIVATE_TARGETS_SETTING
from sites.cli import add_project_option, site_for_command
from sites.models import Site

EXIT_NOT_CHECKED = 3


class Command(BaseCommand):
    help = (
        "Probe one monitored site now (even a disabled one), record the check and any "
        "status change, and print the result. Exit status: 0 when up, 1 when down, "
        "2 when no such site exists, 3 when this process's settings refuse the site's "
        "address (nothing is recorded)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "site", metavar="ID_OR_URL", help="The site's id, or its URL as it was added."
        )
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print the result as JSON."
        )
        add_project_option(parser)

    def handle(self, *args, site: str, as_json: bool, project: str | None, **options) -> None:
        found = site_for_command(site, project_id=project, returncode=EXIT_BAD_INPUT)
        try:
            result = check_site_now(found)
        except Site.DoesNotExist:
            raise CommandError(
                f"Site {found.id} was removed while it was being checked.",
                returncode=EXIT_BAD_INPUT,
            ) from None
        if result.refused_here:
            raise CommandError(
                "not checked: this process refuses private addresses "
                f"({PRIVATE_TARGETS_SETTING} is off here): {result.error_message}. "
                "Nothing was recorded; run the command with the same settings as the "
                "worker (the same .env).",
                returncode=EXIT_NOT_CHECKED,
            )
        write_result(
            self.stdout,
            self.style,
            result,
            url=found.url,
            label=f"#{found.id} {found.url}",
            as_json=as_json,
            site_id=found.id,
        )
        if not result.up:
            raise SystemExit(EXIT_DOWN)
