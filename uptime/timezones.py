"""IANA time zones, as people name them in maintenance windows and cron heartbeats.

A name is looked up among the IANA names rather than tried with
ZoneInfo(name), which also opens file paths such as "../../etc/localtime".
"""

import functools
import zoneinfo

from django.core.exceptions import ValidationError


def zone_names() -> tuple[str, ...]:
    """The IANA time zone names, sorted (a form's choices)."""
    return tuple(sorted(_zone_set()))


@functools.cache
def _zone_set() -> frozenset[str]:
    # Read once: available_timezones() walks the tz database.
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def zone_of(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone of this name; ValidationError for any other text."""
    if name not in _zone_set():
        raise ValidationError(
            f"Unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC."
        )
    return zoneinfo.ZoneInfo(name)
