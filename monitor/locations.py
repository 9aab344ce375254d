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
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from monitor.models import Location

DEFAULT = "default"
QUEUE_PREFIX = "probe."


def queue_name(location: str) -> str:
    """The queue a location's probes consume."""
    return f"{QUEUE_PREFIX}{location}"


def is_central() -> bool:
    """This process is the central side (it has the database)."""
    return settings.UPTIME_LOCATION == DEFAULT


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


def live_locations(now: datetime | None = None) -> list[Location]:
    """Enabled locations heard from recently, in id order."""
    return list(
        Location.objects.filter(enabled=True, last_seen_at__gte=stale_before(now)).order_by("id")
    )


def record_heartbeat(location: Location, *, hostname: str = "", at: datetime | None = None) -> None:
    at = at or timezone.now()
    Location.objects.filter(id=location.id).update(last_seen_at=at, hostname=hostname[:255])

