"""`manage.py check_all`: check every enabled site now, in this process."""

import json

from django.core.management.base import BaseCommand

from monitor.checking import check_sites
from monitor.management.commands.ping import EXIT_DOWN, result_dict, result_line
from sites.cli import add_project_option, sites_for_command


class Command(BaseCommand):
    help = (
        "Probe every enabled site now, concurrently and in this process (no worker "
        "needed), record the results as one batch, and print a line per site. "
        "Exit status: 0 when all are up (or there are none), 1 when any is down."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print the results as JSON."
        )
        add_project_option(parser)

    def handle(self, *args, as_json: bool, project: str | None, **options) -> None:
        urls = dict(sites_for_command(project).filter(enabled=True).values_list("id", "url"))
        if not urls:
            if as_json:
                self.stdout.write("[]")
            else:
                self.stdout.write("No enabled sites to check.")
            return

        results = check_sites(list(urls))
        if as_json:
            rows = [result_dict(r, url=urls[r.site_id], site_id=r.site_id) for r in results]
            self.stdout.write(json.dumps(rows, indent=2))
        else:
            for r in results:
                self.stdout.write(
                    result_line(self.style, r, label=f"#{r.site_id} {urls[r.site_id]}")
                )
            down = sum(not r.up for r in results)
            summary = f"{len(results) - down} up, {down} down."
            self.stdout.write(self.style.ERROR(summary) if down else self.style.SUCCESS(summary))
        if any(not r.up for r in results):
            raise SystemExit(EXIT_DOWN)
