"""What the API and the monitor page show of a site per location.

A site checked from several locations has a SiteLocation row per location
(monitor.recording); one checked from a single location keeps that view on
the Site row itself. Either way a site shows one state per location, and a
regional problem when some voting locations, too few to call it down, see
it down (monitor.quorum, the same rule the engine decides by).

Three queries for any number of sites: the locations, the site's chosen
locations and the SiteLocation rows.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from monitor.locations import chosen_locations, counts, every_location
from monitor.models import DEFAULT_LOCATION_ID, Location, SiteLocation
from monitor.quorum import tally
from monitor.serializers import error_or_none
from sites.models import Site


@dataclass(frozen=True, slots=True)
class LocationState:
    location: Location
    status: str
    last_checked_at: datetime | None
    response_ms: int | None
    status_code: int | None
    error_kind: str
    error_message: str
    voting: bool
    stale: bool

    @property
    def name(self) -> str:
        return self.location.name

    @property
    def label(self) -> str:
        return self.location.label

    def as_api(self) -> dict:
        return {
            "location": self.location.name,
            "label": self.location.label,
            "status": self.status,
            "lastCheckedAt": self.last_checked_at,
            "responseMs": self.response_ms,
            "statusCode": self.status_code,
            "error": error_or_none(self.error_kind, self.error_message),
            "voting": self.voting,
            "stale": self.stale,
        }


@dataclass(frozen=True, slots=True)
class SiteLocations:
    states: list[LocationState]
    # {"locations": [names seeing it down], "voting": n}, or None.
    regional_problem: dict | None

    @property
    def several(self) -> bool:
        """Worth a table: more than one location, or one that is not the central workers."""
        return len(self.states) > 1 or any(
            s.location.id != DEFAULT_LOCATION_ID for s in self.states
        )

    @property
    def regional_text(self) -> str:
        """ "seen down from Frankfurt (1 of 3 locations)", or ""."""
        problem = self.regional_problem
        if not problem:
            return ""
        labels = {s.name: s.location.display_name for s in self.states}
        names = ", ".join(labels.get(name, name) for name in problem["locations"])
        voting = problem["voting"]
        return (
            f"seen down from {names} ({len(problem['locations'])} of {voting} "
            f"location{'s' if voting != 1 else ''})"
        )


def site_locations(site: Site, *, now: datetime | None = None) -> SiteLocations:
    return site_locations_many([site], now=now)[site.pk]


def site_locations_many(
    sites: Iterable[Site], *, now: datetime | None = None
) -> dict[int, SiteLocations]:
    sites = list(sites)
    now = now or timezone.now()
    ids = [site.pk for site in sites]
    locations = every_location()
    chosen = chosen_locations(ids)
    rows: dict[int, list[SiteLocation]] = defaultdict(list)
    for row in SiteLocation.objects.filter(site_id__in=ids).order_by("site_id", "location_id"):
        rows[row.site_id].append(row)
    return {
        site.pk: _one(site, rows[site.pk], locations, chosen.get(site.pk, set()), now)
        for site in sites
    }


def _one(
    site: Site,
    rows: list[SiteLocation],
    locations: dict[int, Location],
    chosen: set[int],
    now: datetime,
) -> SiteLocations:
    wanted = chosen or {i for i, location in locations.items() if location.enabled}
    votes = tally(site, rows, locations, chosen=chosen, now=now)
    places = [locations[i] for i in sorted(wanted) if i in locations]
    if len(places) == 1:
        # Checked from one location: its view is the site's own (no SiteLocation rows).
        states = [_from_site(site, places[0], now)]
    else:
        by_location = {row.location_id: row for row in rows}
        states = [
            _from_row(by_location[loc.id], loc, votes.voting, now)
            if loc.id in by_location
            else _not_yet(loc, now)
            for loc in places
        ]
    problem = None
    if site.enabled and votes.regional:
        problem = {"locations": list(votes.down), "voting": len(votes.voting)}
    return SiteLocations(states, problem)


def _from_row(
    row: SiteLocation, location: Location, voting: list[str], now: datetime
) -> LocationState:
    return LocationState(
        location=location,
        status=row.status,
        last_checked_at=row.last_checked_at,
        response_ms=row.last_response_ms,
        status_code=row.last_status_code,
        error_kind=row.last_error_kind,
        error_message=row.last_error_message,
        voting=location.name in voting,
        stale=_stale(location, now),
    )


def _stale(location: Location, now: datetime) -> bool:
    """Enabled, but not heard from lately (the central side never is)."""
    return location.enabled and not counts(location, now)


def _from_site(site: Site, location: Location, now: datetime) -> LocationState:
    live = counts(location, now)
    return LocationState(
        location=location,
        status=site.status,
        last_checked_at=site.last_checked_at,
        response_ms=site.last_response_ms,
        status_code=site.last_status_code,
        error_kind=site.last_error_kind,
        error_message=site.last_error_message,
        voting=live and location.network_down_since is None and site.status != Site.Status.UNKNOWN,
        stale=location.enabled and not live,
    )


def _not_yet(location: Location, now: datetime) -> LocationState:
    """A location that has not reported on the site yet."""
    return LocationState(
        location=location,
        status=Site.Status.UNKNOWN,
        last_checked_at=None,
        response_ms=None,
        status_code=None,
        error_kind="",
        error_message="",
        voting=False,
        stale=_stale(location, now),
    )
