"""`manage.py add_site [url] [--kind ...]`: start monitoring something."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from monitor import kinds
from sites.cli import site_for_command
from sites.kind_fields import header_lines
from sites.models import MAX_INTERVAL, MAX_THRESHOLD, MAX_TIMEOUT, MIN_INTERVAL
from sites.services import site_create
from teams.cli import project_for_command

# --flag → the option's API name (monitor.kinds); the kind says which apply.
OPTION_FLAGS = {
    "host": "host",
    "port": "port",
    "record_type": "recordType",
    "expected": "expected",
    "resolver": "resolver",
    "cert_expiry_days": "certExpiryDays",
    "method": "method",
    "expected_status": "expectedStatus",
    "keyword": "keyword",
    "keyword_absent": "keywordAbsent",
    "json_path": "jsonPath",
    "json_expected": "jsonExpected",
    "body": "body",
    "max_response_ms": "maxResponseMs",
    "ignore_tls": "ignoreTls",
    "period": "period",
    "cron": "cron",
    "timezone": "timezone",
    "grace": "grace",
}
INT_FLAGS = {"port", "cert_expiry_days", "max_response_ms", "period", "grace"}
BOOL_FLAGS = {"keyword_absent", "ignore_tls"}


class Command(BaseCommand):
    help = (
        "Add a monitor. An http monitor takes a URL, normalised as in the API "
        '("example.com" becomes https://example.com/); other kinds take their options '
        "(tcp: --host --port; dns: --host --record-type --expected; tls: --host --port; "
        "heartbeat: --period or --cron). Refused if invalid, already monitored, or on a "
        "private address. An enabled monitor is checked at once; a heartbeat's ping URL "
        "is printed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "url",
            nargs="?",
            default="",
            help='http: the URL to monitor; "example.com" means https.',
        )
        parser.add_argument("--kind", default="http", choices=list(kinds.KINDS))
        parser.add_argument("--name", default="", help="A display name (default: the target).")
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
            "--paused",
            dest="disabled",
            action="store_true",
            help="Add the monitor paused: it is not checked until resumed.",
        )
        self._add_confirmation_arguments(parser)
        self._add_option_arguments(parser)

    def _add_confirmation_arguments(self, parser) -> None:
        group = parser.add_argument_group("confirmation and dependency")
        for flag, what in (("failure", "down"), ("success", "up")):
            group.add_argument(
                f"--{flag}-threshold",
                type=int,
                metavar="N",
                help=f"{flag.capitalize()}s in a row before {what} (1 to {MAX_THRESHOLD}).",
            )
        group.add_argument(
            "--retry-interval",
            type=int,
            metavar="SECONDS",
            help="Seconds to the next check while a change is unconfirmed (default 20).",
        )
        group.add_argument(
            "--depends-on",
            metavar="ID_OR_URL",
            help="A monitor of the same project this one depends on.",
        )
        group = parser.add_argument_group("locations (see `manage.py location list`)")
        group.add_argument(
            "--location",
            dest="locations",
            action="append",
            metavar="NAME",
            help="Check it from this location; repeat for more (default: every enabled one).",
        )
        group.add_argument(
            "--quorum",
            type=int,
            metavar="N",
            help="Down when N of its voting locations see it down (default: a majority).",
        )
        group.add_argument(
            "--notify-regional",
            action="store_true",
            help="Alert also when only a minority of locations sees it down.",
        )

    def _add_option_arguments(self, parser) -> None:
        group = parser.add_argument_group("kind options (see the README's monitor kinds)")
        for dest in OPTION_FLAGS:
            flag = "--" + dest.replace("_", "-")
            if dest in BOOL_FLAGS:
                group.add_argument(flag, action="store_true", default=None)
            elif dest == "expected":
                group.add_argument(
                    flag, action="append", metavar="VALUE", help="dns: repeat for each value."
                )
            else:
                group.add_argument(flag, type=int if dest in INT_FLAGS else str)
        group.add_argument(
            "--header",
            action="append",
            default=[],
            metavar='"NAME: VALUE"',
            help="http: a request header; repeat for more.",
        )
        group.add_argument(
            "--no-follow-redirects",
            dest="follow_redirects",
            action="store_false",
            default=None,
            help="http: judge the first answer, not where it redirects.",
        )

    def handle(self, *args, url: str, kind: str, disabled: bool, **given) -> None:
        project = project_for_command(project_id=given["project"], username=given["user"])
        if url and kind != "http":
            raise CommandError(f"A {kind} monitor takes no URL: give its options (see --help).")
        values = {
            "name": given["name"],
            "interval": given["interval"],
            "timeout": given["timeout"],
            "locations": given["locations"],
            "quorum": given["quorum"],
            "notify_regional": given["notify_regional"],
            **{
                name: given[name]
                for name in ("failure_threshold", "success_threshold", "retry_interval")
                if given[name] is not None
            },
        }
        if given["depends_on"]:
            values["depends_on"] = site_for_command(given["depends_on"], project_id=str(project.pk))
        try:
            site = site_create(
                project=project,
                kind=kind,
                url=url,
                options=options_given(given),
                enabled=not disabled,
                **values,
            )
        except ValidationError as exc:
            raise CommandError(f"Cannot add {url or kind!r}:\n{describe_errors(exc)}") from None
        self.report(site, disabled)

    def report(self, site, disabled: bool) -> None:
        if site.kind == "heartbeat":
            state = "paused" if disabled else "waiting for its first ping"
            named = f": {site.name}" if site.name else ""
            self.stdout.write(self.style.SUCCESS(f"Added heartbeat {site.id}{named} ({state})."))
            self.stdout.write(f"Ping URL: {site.ping_url} (also {site.ping_url}/start and /fail)")
            return
        state = "disabled" if disabled else f"checked every {site.interval}s"
        self.stdout.write(self.style.SUCCESS(f"Added site {site.id}: {site.url} ({state})."))


def options_given(given: dict) -> dict:
    """The kind options given on the command line, in the API's names."""
    options = {OPTION_FLAGS[d]: given[d] for d in OPTION_FLAGS if given.get(d) is not None}
    if given.get("follow_redirects") is not None:
        options["followRedirects"] = given["follow_redirects"]
    if given.get("header"):
        try:
            options["headers"] = header_lines("\n".join(given["header"]))
        except ValidationError as exc:
            raise CommandError(f"--header: {' '.join(exc.messages)}") from None
    return options


def describe_errors(exc: ValidationError) -> str:
    """Per-field messages as lines a person reads: "  interval: Ensure ..."."""
    if not hasattr(exc, "error_dict"):
        return "\n".join(f"  {message}" for message in exc.messages)
    return "\n".join(
        f"  {'' if field == '__all__' else f'{field}: '}{message}"
        for field, messages in exc.message_dict.items()
        for message in messages
    )
