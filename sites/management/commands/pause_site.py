"""`manage.py pause_site <id|url>`: stop checking a monitor for now; its history stays."""

from django.core.management.base import BaseCommand

from sites.cli import add_project_option, add_site_argument, set_paused


class Command(BaseCommand):
    help = "Stop checking a monitor until resume_site; its history stays. Name it by id or URL."

    def add_arguments(self, parser) -> None:
        add_site_argument(parser)
        add_project_option(parser)

    def handle(self, *args, site: str, project: str | None, **options) -> None:
        set_paused(self, site, project_id=project, paused=True)
