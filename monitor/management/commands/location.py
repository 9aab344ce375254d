"""`manage.py location add|list|disable|enable|rotate-token`: the places checks are made from."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from monitor.location_services import (
    location_create,
    location_rotate_token,
    location_update,
    probe_command,
)
from monitor.locations import counts, location_token
from monitor.models import Location
from sites.management.commands.add_site import describe_errors


class Command(BaseCommand):
    help = (
        "Manage locations. `add NAME` prints the new location's token and the command "
        "that starts its probe; `rotate-token NAME` revokes the old token and prints a new one."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        add = actions.add_parser("add", help="Add a location and print its token.")
        add.add_argument("name", help="1-32 lowercase letters, digits and dashes, e.g. eu-west.")
        add.add_argument("--label", default="", help="Shown on pages, e.g. Frankfurt.")
        actions.add_parser("list", help="Every location with its last heartbeat.")
        for action, text in (
            ("disable", "Stop sending it checks; its votes stop counting."),
            ("enable", "Send it checks again."),
            ("rotate-token", "Revoke its token and print a new one."),
        ):
            actions.add_parser(action, help=text).add_argument("name")

    def handle(self, *args, action: str, **options) -> None:
        if action == "add":
            self.add(options["name"], options["label"])
        elif action == "list":
            self.list()
        else:
            location = self._get(options["name"])
            if action == "rotate-token":
                self.print_token(location, location_rotate_token(location=location), "New token")
            else:
                self._set_enabled(location, enabled=action == "enable")

    def add(self, name: str, label: str) -> None:
        try:
            location = location_create(name=name, label=label)
        except ValidationError as exc:
            raise CommandError(f"Cannot add location {name!r}:\n{describe_errors(exc)}") from None
        self.stdout.write(self.style.SUCCESS(f"Added location {location.name}."))
        self.print_token(location, location_token(location), "Token")

    def print_token(self, location: Location, token: str, what: str) -> None:
        self.stdout.write(f"{what} (shown once, keep it secret): {token}")
        self.stdout.write("Start its probe on the machine in that location with:")
        self.stdout.write(f"  {probe_command(location, token)}")

    def list(self) -> None:
        now = timezone.now()
        for location in Location.objects.order_by("id"):
            if not location.enabled:
                state = "disabled"
            elif location.network_down_since is not None:
                state = "network down"
            else:
                state = "live" if counts(location, now) else "stale"
            seen = location.last_seen_at.isoformat() if location.last_seen_at else "never"
            label = f" ({location.label})" if location.label else ""
            host = f" on {location.hostname}" if location.hostname else ""
            self.stdout.write(f"{location.name}{label}: {state}, last heartbeat {seen}{host}")

    def _set_enabled(self, location: Location, *, enabled: bool) -> None:
        try:
            location_update(location=location, enabled=enabled)
        except ValidationError as exc:
            raise CommandError(describe_errors(exc)) from None
        verb = "Enabled" if enabled else "Disabled"
        self.stdout.write(self.style.SUCCESS(f"{verb} location {location.name}."))

    def _get(self, name: str) -> Location:
        try:
            return Location.objects.get(name=name)
        except Location.DoesNotExist:
            raise CommandError(
                f"No location is named {name!r}. See `manage.py location list`."
            ) from None
