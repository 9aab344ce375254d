"""`manage.py resume_site <id|url>`: check a paused monitor again."""

from django.core.management.base import BaseCommand

from sites.cli import add_project_option, add_site_argument, set_paused


class Command(BaseCommand):
    help = "Check a paused monitor again, at once. Name it by id or URL (target)."

    def add_arguments(self, parser) -> None:
        add_site_argument(parser)
        add_project_option(parser)

    def handle(self, *args, site: str, project: str | None, **options) -> None:
        set_paused(self, site, project_id=project, paused=False)
