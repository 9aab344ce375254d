"""Recording checks of a site made from several locations, and deciding once.

monitor.recording calls in here, inside its transaction and with the site
rows already locked, for the sites more than one live location checks.
Each location confirms on its own (apply_result on that location's view, a
SiteLocation row); then monitor.quorum counts the votes and the site's own
status follows them. The site row is locked throughout, so however many
locations report at once, a change of the site's status is decided once.

A location reports a claim (one due time) once: a result naming the claim
it already reported, or an older one, is a redelivered message and is
dropped (SiteLocation.last_claim).

A location whose own network looks down does not vote: when its latest
checks of at least UPTIME_OUTAGE_MIN_SITES sites in the last minute (plus
UPTIME_OUTAGE_SETTLE) failed at the network level for UPTIME_OUTAGE_PERCENT %
of them, the location is marked (Location.network_down_since) until they no
longer do.
"""

import dataclasses
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from monitor.connectivity import NETWORK_ERROR_KINDS
from monitor.locations import chosen_locations, counts, every_location
from monitor.models import Location, SiteLocation
from monitor.pgarrays import array_literal, int_array_literal
from monitor.probe import ProbeResult
from monitor.quorum import Tally, tally
from sites.models import Site

Status = Site.Status
# A location's own network is judged by its latest view of each site checked
# in this window (and the settle period): most of them failing at the
# network level means the location, not the sites.
NETWORK_WINDOW = timedelta(seconds=60)
# What recording writes of a location's view of a site (SiteLocation), with
# each column's PostgreSQL type, to which the upsert's arrays are cast.
VIEW_COLUMNS = {
    "status": "varchar",
    "last_claim": "timestamptz",
    "last_checked_at": "timestamptz",
    "status_changed_at": "timestamptz",
    "last_status_code": "integer",
    "last_response_ms": "integer",
    "last_error_kind": "varchar",
    "last_error_message": "varchar",
    "failures_in_a_row": "integer",
    "successes_in_a_row": "integer",
}
VIEW_FIELDS = list(VIEW_COLUMNS)


@dataclasses.dataclass(slots=True)
class View:
    """A location's view of a site (a SiteLocation row) as recording reads
    and writes it: a batch holds one per site and location, and model
    instances cost more than the rest of recording them."""

    id: int | None
    site_id: int
    location_id: int
    # Then VIEW_COLUMNS, in their order (rows are read into these by position).
    status: str = Status.UNKNOWN
    last_claim: datetime | None = None
    last_checked_at: datetime | None = None
    status_changed_at: datetime | None = None
    last_status_code: int | None = None
    last_response_ms: int | None = None
    last_error_kind: str = ""
    last_error_message: str = ""
    failures_in_a_row: int = 0
    successes_in_a_row: int = 0


@dataclasses.dataclass(slots=True)
class Plan:
    """Which of a batch's sites are checked from several locations."""

    locations: dict[int, Location]
    chosen: dict[int, set[int]]  # a site's own choice of location ids
    several: set[int]  # site ids with two or more live locations


def plan(site_ids: set[int], locations: dict[int, Location] | None = None) -> Plan:
    """Two queries at most: the locations (unless given), and the sites'
    choices of them."""
    locations = every_location() if locations is None else locations
    live = {i for i, location in locations.items() if counts(location)}
    if len(live) < 2:
        return Plan(locations, {}, set())
    chosen = chosen_locations(site_ids)
    several = {i for i in site_ids if len((chosen.get(i) or live) & live) >= 2}
    return Plan(locations, chosen, several)


def record(results: list[ProbeResult], states: dict, plan: Plan, *, claim: datetime | None):
    """Apply results from several locations; return (the results kept as
    checks, the causes of transitions as (result, from, to, extra fields))."""
    from monitor.recording import SiteState, apply_result, gap_before

    views = _load_views({r.site_id for r in results})
    created: list[View] = []
    changed: dict[tuple[int, int], View] = {}
    kept: list[ProbeResult] = []
    for result in results:
        key = (result.site_id, result.location_id)
        view = views.get(key)
        if view is None:
            view = views[key] = View(None, site_id=key[0], location_id=key[1])
            created.append(view)
        if claim is not None and view.last_claim is not None and claim <= view.last_claim:
            continue  # this location already reported this due time
        site: SiteState = states[result.site_id]
        seen = SiteState(
            id=site.id,
            status=view.status,
            last_checked_at=view.last_checked_at,
            status_changed_at=view.status_changed_at,
            failures_in_a_row=view.failures_in_a_row,
            successes_in_a_row=view.successes_in_a_row,
            failure_threshold=site.failure_threshold,
            success_threshold=site.success_threshold,
            interval=site.interval,
            retry_interval=site.retry_interval,
            timeout=site.timeout,
            next_check_at=site.next_check_at,
            kind=site.kind,
        )
        apply_result(seen, result)
        kept.append(result)
        if claim is not None:
            view.last_claim = claim
        if seen.last_result is not None:
            view.status = seen.status
            view.last_checked_at = seen.last_checked_at
            view.status_changed_at = seen.status_changed_at
            view.failures_in_a_row = seen.failures_in_a_row
            view.successes_in_a_row = seen.successes_in_a_row
            view.last_status_code = result.status_code
            view.last_response_ms = result.response_ms
            view.last_error_kind = result.error_kind
            view.last_error_message = result.error_message
            site.next_check_at = seen.next_check_at  # retry soon while unconfirmed
        if view.id is not None:
            changed[key] = view
        if site.last_checked_at is None or result.checked_at >= site.last_checked_at:
            site.gap = gap_before(site, result.checked_at)
            site.last_checked_at = result.checked_at
            site.last_result = result
            if result.cert_expires_at is not None:
                site.cert_expires_at = result.cert_expires_at
        elif site.last_result is None:
            # Older than the site's latest check (another location's came
            # first), yet it may change the vote: the site is decided again.
            site.last_result = result
    _save_views(created, list(changed.values()))
    _note_networks(kept, plan.locations)
    return kept, _decide(kept, states, views, plan)


def _load_views(site_ids: set[int]) -> dict[tuple[int, int], View]:
    """The sites' views from every location, by (site id, location id)."""
    if connection.vendor != "postgresql":
        rows = SiteLocation.objects.filter(site_id__in=site_ids).values_list(
            "id", "site_id", "location_id", *VIEW_FIELDS
        )
        return {(row[1], row[2]): View(*row) for row in rows}
    with connection.cursor() as cursor:
        cursor.execute(_LOAD_VIEWS_SQL, [sorted(site_ids)])
        rows = cursor.fetchall()
    times = [i for i, kind in enumerate(VIEW_COLUMNS.values(), start=3) if kind == "timestamptz"]
    views = {}
    for row in rows:
        row = list(row)
        for i in times:
            if row[i] is not None:
                row[i] = EPOCH + timedelta(microseconds=row[i])
        views[row[1], row[2]] = View(*row)
    return views


def _save_views(created: list[View], changed: list[View]) -> None:
    """Insert the new views and update the changed ones. On PostgreSQL, one
    INSERT … ON CONFLICT from arrays (the ORM's bulk_update builds a CASE per
    column and row, and was most of the central side's CPU); elsewhere the ORM."""
    if connection.vendor != "postgresql":
        SiteLocation.objects.bulk_create(SiteLocation(**_fields(v)) for v in created)
        SiteLocation.objects.bulk_update([SiteLocation(**_fields(v)) for v in changed], VIEW_FIELDS)
        return
    views = sorted(created + changed, key=lambda v: (v.site_id, v.location_id))
    if not views:
        return
    arrays = [
        (int_array_literal if kind in _INTEGER_TYPES else array_literal)(
            [getattr(view, name) for view in views]
        )
        for name, kind in _UPSERT_COLUMNS.items()
    ]
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT_VIEWS_SQL, arrays)


def _fields(view: View) -> dict:
    return {field.name: getattr(view, field.name) for field in dataclasses.fields(View)}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Times come as microseconds since the epoch: exact, and turned into
# datetimes for a fraction of what parsing their text costs (a batch reads
# three per view, and every location's views of each of its sites).
_LOAD_VIEWS_SQL = f"""
SELECT id, site_id, location_id, {
    ", ".join(
        f"(extract(epoch FROM {name}) * 1000000)::bigint" if kind == "timestamptz" else name
        for name, kind in VIEW_COLUMNS.items()
    )
}
FROM monitor_sitelocation WHERE site_id = ANY(%s)
"""  # noqa: S608 - constant column names
_UPSERT_COLUMNS = {"site_id": "bigint", "location_id": "smallint", **VIEW_COLUMNS}
_INTEGER_TYPES = {"bigint", "smallint", "integer"}
# The caller holds the sites' row locks, so no other recorder writes these
# views meanwhile; ON CONFLICT is what makes one statement do both.
_UPSERT_VIEWS_SQL = f"""
INSERT INTO monitor_sitelocation ({", ".join(_UPSERT_COLUMNS)})
SELECT * FROM unnest({", ".join(f"%s::{kind}[]" for kind in _UPSERT_COLUMNS.values())})
ON CONFLICT (site_id, location_id) DO UPDATE SET
    {", ".join(f"{name} = EXCLUDED.{name}" for name in VIEW_FIELDS)}
"""  # noqa: S608 - constant column names


def _decide(kept: list[ProbeResult], states: dict, views: dict, plan: Plan) -> list[tuple]:
    """Count each site's votes; a site whose status they change causes a
    transition, caused by the latest of its checks here from a location that
    sees it down (or its latest check, on the way back up)."""
    now = timezone.now()
    by_site: dict[int, list[View]] = defaultdict(list)
    for (site_id, _), view in views.items():
        by_site[site_id].append(view)
    latest: dict[int, dict[int, ProbeResult]] = defaultdict(dict)
    for result in kept:  # in time order
        latest[result.site_id][result.location_id] = result
    causes = []
    for site_id in sorted(latest):
        site = states[site_id]
        if site.last_result is None:
            continue
        votes = tally(
            site, by_site[site_id], plan.locations, chosen=plan.chosen.get(site_id), now=now
        )
        cause = site.last_result
        if votes.down:
            down_ids = {i for i, where in plan.locations.items() if where.name in votes.down}
            seen_down = [r for i, r in latest[site_id].items() if i in down_ids]
            cause = max(seen_down, key=lambda r: r.checked_at) if seen_down else cause
            # The site's row says which locations see it down (not a check).
            site.last_result = _told_from(site.last_result, votes, by_site[site_id], plan)
        decided = votes.status
        if decided is None or decided == site.status:
            continue
        old = site.status
        site.status = decided
        site.status_changed_at = site.last_checked_at
        assumed_before = Status.UP if old == Status.UNKNOWN else old
        if decided == assumed_before:
            continue
        extra = {"locations": ",".join(votes.down)[:200], "regional": votes.regional}
        causes.append((cause, old, decided, extra))
    return causes


def _told_from(latest: ProbeResult, votes: Tally, views: list, plan: Plan) -> ProbeResult:
    """What the site's row and its alert say while locations see it down: a
    down location's error, saying which locations saw it."""
    names = {
        plan.locations[v.location_id].name: v for v in views if v.location_id in plan.locations
    }
    view = names[votes.down[0]]
    where = ", ".join(votes.down)
    share = f"{len(votes.down)} of {len(votes.voting)} locations"
    message = f"Down from {where} ({share}): {view.last_error_message or view.last_error_kind}"
    return dataclasses.replace(
        latest,
        up=votes.status != Status.DOWN and latest.up,
        status_code=view.last_status_code,
        response_ms=view.last_response_ms,
        error_kind=view.last_error_kind or latest.error_kind,
        error_message=message[:300],
    )


def _note_networks(results: list[ProbeResult], locations: dict[int, Location]) -> None:
    """Mark or clear each reporting location's own network as down (see above).

    Looked at only when this batch has network-level failures from the
    location, or the location is marked already: a healthy location costs
    nothing here.
    """
    failing = {r.location_id for r in results if not r.up and r.error_kind in NETWORK_ERROR_KINDS}
    marked = {r.location_id for r in results if _marked(locations.get(r.location_id))}
    now = timezone.now()
    since = now - NETWORK_WINDOW - timedelta(seconds=settings.UPTIME_OUTAGE_SETTLE)
    for location_id in sorted(failing | marked):
        location = locations.get(location_id)
        if location is None:
            continue
        counted = SiteLocation.objects.filter(
            location_id=location_id, last_checked_at__gte=since
        ).aggregate(
            checked=Count("id"),
            failed=Count("id", filter=Q(last_error_kind__in=NETWORK_ERROR_KINDS)),
        )
        checked, failed = counted["checked"], counted["failed"]
        if checked < settings.UPTIME_OUTAGE_MIN_SITES and not _marked(location):
            continue
        down = checked > 0 and failed * 100 >= settings.UPTIME_OUTAGE_PERCENT * checked
        if down == _marked(location):
            continue
        location.network_down_since = now if down else None
        Location.objects.filter(id=location_id).update(
            network_down_since=location.network_down_since
        )


def _marked(location: Location | None) -> bool:
    return location is not None and location.network_down_since is not None
