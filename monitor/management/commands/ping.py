"""`manage.py ping <url>`: probe a URL once and say whether it is up; store nothing.

Also home to the one-line and JSON forms of a probe result, which check_site
and check_all print too.
"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.core.management.color import Style

from monitor.probe import ProbeResult, Target, probe
from sites.models import MAX_TIMEOUT
from sites.targets import clean_target

# Exit statuses shared by ping and check_site, as curl -f does it:
# 0 up, 1 down (the command worked; the site did not), 2 the command could not run.
EXIT_DOWN = 1
EXIT_BAD_INPUT = 2


class Command(BaseCommand):
    help = (
        "Probe a URL once, now, and print whether it is up, its HTTP status, "
        "response time and, when down, the reason. Nothing is stored. "
        "Exit status: 0 when up, 1 when down, 2 when the URL or an option is invalid "
        "(like curl -f, so a script can test the result)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "url", help='The URL to probe; "example.com" means https://example.com/.'
        )
        parser.add_argument(
            "--timeout",
            type=int,
            default=10,
            metavar="SECONDS",
            help=f"Seconds to wait for a complete answer, 1 to {MAX_TIMEOUT} (default 10).",
        )
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print the result as JSON."
        )

    def handle(self, *args, url: str, timeout: int, as_json: bool, **options) -> None:
        if not 1 <= timeout <= MAX_TIMEOUT:
            raise CommandError(
                f"--timeout must be between 1 and {MAX_TIMEOUT} seconds, not {timeout}.",
                returncode=EXIT_BAD_INPUT,
            )
        try:
            url = clean_target(url)
        except ValidationError as exc:
            raise CommandError(
                f"Cannot ping {url!r}: {' '.join(exc.messages)}", returncode=EXIT_BAD_INPUT
            ) from None

        result = probe(Target(url=url, timeout=timeout))
        write_result(self.stdout, self.style, result, url=url, as_json=as_json)
        if not result.up:
            raise SystemExit(EXIT_DOWN)


def result_dict(result: ProbeResult, *, url: str, **extra) -> dict:
    """A probe result as plain JSON-ready data."""
    return {
        **extra,
        "url": url,
        "up": result.up,
        "status_code": result.status_code,
        "response_ms": result.response_ms,
        "error_kind": result.error_kind,
        "reason": result.reason,
        "checked_at": result.checked_at.isoformat(),
    }


def result_line(style: Style, result: ProbeResult, *, label: str) -> str:
    """One line a person reads: UP/DOWN, what was probed, status, reason, time."""
    state = style.SUCCESS("UP  ") if result.up else style.ERROR("DOWN")
    status = f"HTTP {result.status_code}" if result.status_code else ""
    reason = "" if result.up else result.reason
    if not reason:
        detail = status or "no response"
    elif status and not reason.startswith(status):
        detail = f"{status}, {reason}"
    else:
        detail = reason  # "HTTP 503 Service Unavailable" or "Connection refused"
    return f"{state}  {label}  {detail}  {result.response_ms} ms"


def write_result(
    out: OutputWrapper,
    style: Style,
    result: ProbeResult,
    *,
    url: str,
    label: str = "",
    as_json: bool = False,
    **extra,
) -> None:
    """Write a result as one line, or as a JSON object with `extra` keys first."""
    if as_json:
        out.write(json.dumps(result_dict(result, url=url, **extra)))
    else:
        out.write(result_line(style, result, label=label or url))
