"""Locations: the places checks are made from, and what each may do.

A location is a probe process started with UPTIME_LOCATION=<name>. The
central side (UPTIME_LOCATION=default, the workers with the database) claims
due sites, sends each remote location the targets it should probe on the
queue probe.<name>, and records what comes back. A remote location holds no
database credentials: only the broker's address and its own token.

Its token is derived from the central SECRET_KEY and the location's name
and token version (nothing secret is stored): results and heartbeats are
signed with it, so a location can only speak for itself, and bumping the
version revokes it. A location is live while its heartbeats keep arriving
(UPTIME_LOCATION_STALE_AFTER); a stale one is sent nothing and its votes do
not count.
"""

import hashlib
import hmac
import json
import socket
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from monitor.models import DEFAULT_LOCATION_ID, Location
from sites.models import Site

DEFAULT = "default"
QUEUE_PREFIX = "probe."


def queue_name(location: str) -> str:
    """The queue a location's probes consume."""
    return f"{QUEUE_PREFIX}{location}"


def location_token(location: Location) -> str:
    """The location's token: what its probe process is given, as UPTIME_LOCATION_TOKEN."""
    message = f"uptime-location:{location.name}:{location.token_version}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def sign(payload: dict, token: str) -> str:
    """The signature of a message a location sends (over its canonical JSON)."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def verify(location: Location, payload: dict, signature: str) -> bool:
    return hmac.compare_digest(sign(payload, location_token(location)), signature or "")


def stale_before(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=settings.UPTIME_LOCATION_STALE_AFTER)


def is_live(location: Location, now: datetime | None = None) -> bool:
    """Enabled and heard from recently."""
    return (
        location.enabled
        and location.last_seen_at is not None
        and location.last_seen_at >= stale_before(now)
    )


def counts(location: Location, now: datetime | None = None) -> bool:
    """Checks are sent there and its results count: it is enabled, and it is
    the central side (there whenever anything runs) or it was heard from
    recently."""
    return location.enabled and (location.id == DEFAULT_LOCATION_ID or is_live(location, now))


def every_location(rows: list[tuple] | None = None) -> dict[int, Location]:
    """Every location by id. The central side is there even without its row
    (a database emptied by hand, or by a test's flush): enabled, as created.

    `rows`: what SELECT_EVERY_LOCATION returned, read with another statement
    in one round trip (the recorder's lock), instead of a query of its own.
    """
    if rows is None:
        found = {location.id: location for location in Location.objects.all()}
    else:
        found = {row[0]: Location.from_db(connection.alias, _COLUMNS, row) for row in rows}
    found.setdefault(DEFAULT_LOCATION_ID, Location(id=DEFAULT_LOCATION_ID, name=DEFAULT))
    return found


_COLUMNS = [field.attname for field in Location._meta.concrete_fields]
# Every location's row, for every_location(rows); id first.
SELECT_EVERY_LOCATION = f"SELECT {', '.join(_COLUMNS)} FROM {Location._meta.db_table}; "  # noqa: S608 - model names


def record_heartbeat(location: Location, *, hostname: str = "", at: datetime | None = None) -> None:
    at = at or timezone.now()
    Location.objects.filter(id=location.id).update(last_seen_at=at, hostname=hostname[:255])


def chosen_locations(site_ids) -> dict[int, set[int]]:
    """The locations each of these sites chose, by site id (a site that chose
    none, and so is checked from every location, is left out)."""
    through = Site.locations.through
    if connection.vendor != "postgresql":
        rows = through.objects.filter(site_id__in=site_ids).values_list("site_id", "location_id")
    else:
        # One array, not a placeholder per site: psycopg parses a query of
        # more than 50 parameters afresh each time (it caches only smaller ones).
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT site_id, location_id FROM {through._meta.db_table} "  # noqa: S608
                "WHERE site_id = ANY(%s)",
                [sorted(site_ids)],
            )
            rows = cursor.fetchall()
    chosen: dict[int, set[int]] = defaultdict(set)
    for site_id, location_id in rows:
        chosen[site_id].add(location_id)
    return dict(chosen)


def route(site_ids: list[int]) -> list[tuple[Location | None, list[int]]]:
    """Where each site is checked from: [(location, site ids)], None for the
    central side. Every location that counts, or the site's own choice among
    them; a site none of whose locations counts is not checked this time."""
    if not site_ids:
        return []
    live = {i: location for i, location in every_location().items() if counts(location)}
    if list(live) == [DEFAULT_LOCATION_ID]:
        return [(None, list(site_ids))]
    chosen = chosen_locations(site_ids)
    routes: dict[int, list[int]] = defaultdict(list)
    for site_id in site_ids:
        for location_id in sorted((chosen.get(site_id) or live.keys()) & live.keys()):
            routes[location_id].append(site_id)
    return [
        (None if location_id == DEFAULT_LOCATION_ID else live[location_id], ids)
        for location_id, ids in sorted(routes.items())
    ]


def heartbeat_payload() -> tuple[dict, str]:
    """What a location's probe process sends every UPTIME_LOCATION_HEARTBEAT_EVERY seconds."""
    payload = {
        "location": settings.UPTIME_LOCATION,
        "hostname": socket.gethostname(),
        "sent_at": timezone.now().isoformat(),
    }
    return payload, sign(payload, settings.UPTIME_LOCATION_TOKEN)
