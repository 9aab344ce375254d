"""`manage.py list_sites`: every monitored site and its current state."""

import json

from django.core.management.base import BaseCommand
from django.utils import timezone

from sites.cli import add_project_option, sites_for_command
from sites.models import Site

MAX_REASON = 60
HEADERS = ("ID", "KIND", "STATE", "TARGET", "NAME", "INTERVAL", "LAST CHECKED", "REASON")


class Command(BaseCommand):
    help = (
        "List monitors with their kind, state (up, degraded, down, unknown or paused), "
        "target, name, interval, when each was last checked and, for one that is down or "
        "degraded, why. --json prints every field (secrets never)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--json",
            dest="as_json",
            action="store_true",
            help="Print a JSON array of sites instead of a table.",
        )
        add_project_option(parser)

    def handle(self, *args, as_json: bool, project: str | None, **options) -> None:
        sites = list(sites_for_command(project).order_by("id"))
        if as_json:
            self.stdout.write(json.dumps([site_dict(s) for s in sites], indent=2))
        elif not sites:
            self.stdout.write("No sites yet. Add one with `manage.py add_site <url>`.")
        else:
            self.write_table(sites)

    def write_table(self, sites: list[Site]) -> None:
        rows = [HEADERS, *(table_row(s) for s in sites)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
        status_styles = {
            "up": self.style.SUCCESS,
            "down": self.style.ERROR,
            "degraded": self.style.WARNING,
            "paused": self.style.NOTICE,
        }
        for n, row in enumerate(rows):
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
            if n == 0:
                cells = [self.style.MIGRATE_HEADING(cell) for cell in cells]
            elif row[2] in status_styles:
                # Pad before styling: colour codes would throw the column widths off.
                cells[2] = status_styles[row[2]](cells[2])
            self.stdout.write("  ".join(cells).rstrip())


def table_row(site: Site) -> tuple[str, ...]:
    reason = site.reason
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 1] + "…"
    return (
        str(site.id),
        site.kind,
        state(site),
        site.url or "-",
        site.name,
        f"{site.interval}s",
        _local(site.last_checked_at) or "never",
        reason,
    )


def state(site: Site) -> str:
    """What a person should read first: paused, else the status."""
    return "paused" if site.paused else site.status


def site_dict(site: Site) -> dict:
    return {
        "id": site.id,
        "project": site.project_id,
        "kind": site.kind,
        "url": site.url,
        "name": site.name,
        "options": {k: v for k, v in site.options.items() if k != "url"},
        "state": state(site),
        "enabled": site.enabled,
        "paused": site.paused,
        "failure_threshold": site.failure_threshold,
        "success_threshold": site.success_threshold,
        "retry_interval": site.retry_interval,
        "depends_on": site.depends_on_id,
        "ping_url": site.ping_url if site.kind == "heartbeat" else None,
        "cert_expires_at": _iso(site.cert_expires_at),
        "interval": site.interval,
        "timeout": site.timeout,
        "status": site.status,
        "last_checked_at": _iso(site.last_checked_at),
        "next_check_at": _iso(site.next_check_at) if site.enabled else None,
        "status_changed_at": _iso(site.status_changed_at),
        "last_status_code": site.last_status_code,
        "last_response_ms": site.last_response_ms,
        "last_error_kind": site.last_error_kind,
        "reason": site.reason,
    }


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None
