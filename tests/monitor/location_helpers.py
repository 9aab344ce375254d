"""Locations and per-location states for tests: live, stale, and a site as each sees it."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from monitor.models import Location, SiteLocation
from sites.models import Site


def live_location(name: str, label: str = "", **fields) -> Location:
    """Heard from just now."""
    return Location.objects.create(name=name, label=label, last_seen_at=timezone.now(), **fields)


def stale_location(name: str, label: str = "") -> Location:
    """Last heard from longer ago than UPTIME_LOCATION_STALE_AFTER."""
    silent = timedelta(seconds=settings.UPTIME_LOCATION_STALE_AFTER + 30)
    return Location.objects.create(name=name, label=label, last_seen_at=timezone.now() - silent)


def seen_as(site: Site, location: Location, status: str, **fields) -> SiteLocation:
    """The site as `location` saw it a moment ago."""
    values = {
        "last_checked_at": timezone.now() - timedelta(seconds=5),
        "last_response_ms": 120 if status == "up" else None,
        "last_status_code": 200 if status == "up" else None,
        **fields,
    }
    return SiteLocation.objects.create(site=site, location=location, status=status, **values)
