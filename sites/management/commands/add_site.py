"""`manage.py add_site <url>`: start monitoring a URL."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sites.models import MAX_INTERVAL, MAX_TIMEOUT, MIN_INTERVAL
from sites.services import site_create
from teams.cli import project_for_command


class Command(BaseCommand):
    help = (
        "Add a site to monitor. The URL is normalised as in the API "
        '("example.com" becomes https://example.com/) and refused if it is invalid, '
        "already monitored, or on a private address. An enabled site is checked at once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("url", help='The URL to monitor; "example.com" means https.')
        parser.add_argument("--name", default="", help="A display name (default: the URL).")
        parser.add_argument(
            "--interval",
            type=int,
            default=60,
            metavar="SECONDS",
            help=f"Seconds between checks, {MIN_INTERVAL} to {MAX_INTERVAL} (default 60).",
        )
        parser.add_argument(
            "--timeout",
            type=int,
            default=10,
            metavar="SECONDS",
            help=(
                f"Seconds a check may take, 1 to {MAX_TIMEOUT} and at most the interval "
                "(default 10)."
            ),
        )
        parser.add_argument("--project", metavar="ID", help="The project to add it to (its id).")
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="Add it to this user's personal project instead.",
        )
        parser.add_argument(
            "--disabled",
            action="store_true",
            help="Add the site paused: it is not checked until enabled.",
        )

    def handle(self, *args, url, name, interval, timeout, disabled, **options) -> None:
        project = project_for_command(project_id=options["project"], username=options["user"])
        try:
            site = site_create(
                project=project,
                url=url,
                name=name,
                interval=interval,
                timeout=timeout,
                enabled=not disabled,
            )
        except ValidationError as exc:
            raise CommandError(f"Cannot add {url!r}:\n{describe_errors(exc)}") from None
        state = "disabled" if disabled else f"checked every {site.interval}s"
        self.stdout.write(self.style.SUCCESS(f"Added site {site.id}: {site.url} ({state})."))


def describe_errors(exc: ValidationError) -> str:
    """Per-field messages as lines a person reads: "  interval: Ensure ..."."""
    if not hasattr(exc, "error_dict"):
        return "\n".join(f"  {message}" for message in exc.messages)
    return "\n".join(
        f"  {'' if field == '__all__' else f'{field}: '}{message}"
        for field, messages in exc.message_dict.items()
        for message in messages
    )
