"""Time-weighted uptime: seconds down over seconds monitored, from the state changes.

Count-based uptime (failed checks over checks) is wrong as soon as a
monitor's interval changes or its checks are retried faster while a failure
is confirmed; this is measured in seconds instead. A site's timeline is
rebuilt from its transitions: each one sets the state from its time on, and
the state before the first is that transition's `from_status` (or, with no
transition in the range, the site's status now). Down counts as down; up and
degraded count as up; unknown (not checked yet) is not monitored.

Left out of both sums, and reported apart:
- maintenance: occurrences of the windows covering the site;
- not monitored: gaps (Uptime was not checking, monitor.recording.gap_before),
  finished pauses (gaps with reason "paused") and a pause still going on.

A site's first success is no transition (monitor.recording.apply_result), so
"known since" is found as: the first transition's time when that one left
unknown; else, with no transition at all, when the status last changed (the
first check); else the site's creation.

Everything is batched: one query each for the sites, their transitions in
the range, their gaps and their projects' maintenance windows, whatever the
number of sites.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection
from django.db.models import OuterRef, Q, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from monitor.maintenance import occurrences
from monitor.models import MaintenanceWindow, MonitoringGap, Transition
from monitor.pgarrays import int_array_literal
from sites.models import Site

Period = tuple[datetime, datetime]

# The periods the API and the pages show, newest first in each sense.
PERIODS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "365d": timedelta(days=365),
}
# Digits kept in a percentage: 99.9999 shows a few seconds a month.
DECIMALS = 4

UP_STATES = frozenset({Site.Status.UP, Site.Status.DEGRADED})
DOWN = Site.Status.DOWN
UNKNOWN = Site.Status.UNKNOWN


@dataclass(frozen=True)
class Measure:
    """Seconds of one site over one range."""

    down: float
    monitored: float
    maintenance: float
    not_monitored: float

    @property
    def uptime(self) -> float | None:
        """Percent up of the monitored time, DECIMALS digits; None when nothing was monitored."""
        if self.monitored <= 0:
            return None
        return round(100 * (self.monitored - self.down) / self.monitored, DECIMALS)


@dataclass(frozen=True)
class Day:
    """One calendar day of a site (in the zone asked for)."""

    day: date
    measure: Measure

    @property
    def uptime(self) -> float | None:
        return self.measure.uptime


class Timeline:
    """One site's states and exclusions over [start, end), ready to be measured."""

    def __init__(
        self,
        start: datetime,
        end: datetime,
        states: list[tuple[datetime, str]],
        maintenance: list[Period],
        unmonitored: list[Period],
    ) -> None:
        self.start, self.end = start, end
        # (from, state) in time order; each state lasts until the next one's time.
        self.states = states
        self.maintenance = _merge(maintenance)
        # Time in maintenance is counted as maintenance even when also a gap.
        self.unmonitored = _subtract(_merge(unmonitored), self.maintenance)
        self._excluded = _merge([*self.maintenance, *self.unmonitored])
        self._starts = [at for at, _ in states]

    def measure(self, start: datetime | None = None, end: datetime | None = None) -> Measure:
        start = max(start or self.start, self.start)
        end = min(end or self.end, self.end)
        if end <= start:
            return Measure(0.0, 0.0, 0.0, 0.0)
        down = monitored = 0.0
        first = max(bisect.bisect_right(self._starts, start) - 1, 0)
        for index in range(first, len(self.states)):
            begin, state = self.states[index]
            if begin >= end:
                break
            finish = self.states[index + 1][0] if index + 1 < len(self.states) else self.end
            piece = (max(begin, start), min(finish, end))
            if piece[1] <= piece[0] or state == UNKNOWN:
                continue
            seconds = _length(piece) - _overlap(piece, self._excluded)
            monitored += seconds
            if state == DOWN:
                down += seconds
        window = (start, end)
        return Measure(
            down=down,
            monitored=monitored,
            maintenance=_overlap(window, self.maintenance),
            not_monitored=_overlap(window, self.unmonitored),
        )


def timelines(
    sites: Iterable[Site | int], start: datetime, end: datetime | None = None
) -> dict[int, Timeline]:
    """Each site's timeline over [start, end) (end: now), keyed by site id."""
    end = end or timezone.now()
    ids = [site if isinstance(site, int) else site.pk for site in sites]
    if not ids:
        return {}
    first = Transition.objects.filter(site=OuterRef("pk")).order_by("created_at", "id")
    rows = Site.objects.filter(pk__in=_many(ids)).annotate(
        first_at=Subquery(first.values("created_at")[:1]),
        first_from=Subquery(first.values("from_status")[:1]),
    )
    info = {
        row["pk"]: row
        for row in rows.values(
            "pk",
            "project_id",
            "status",
            "enabled",
            "paused_at",
            "created_at",
            "status_changed_at",
            "first_at",
            "first_from",
        )
    }
    changes: dict[int, list[tuple[datetime, str, str]]] = defaultdict(list)
    in_range = Transition.objects.filter(
        site_id__in=_many(ids), created_at__gte=start, created_at__lt=end
    ).order_by("site_id", "created_at", "id")
    for site_id, at, before, after in in_range.values_list(
        "site_id", "created_at", "from_status", "to_status"
    ):
        changes[site_id].append((at, before, after))
    unmonitored = _gaps(ids, start, end)
    maintenance = maintenance_periods_many(info.values(), start, end)
    result = {}
    for site_id, row in info.items():
        gaps = unmonitored.get(site_id, [])
        if not row["enabled"] and row["paused_at"] is not None and row["paused_at"] < end:
            gaps = [*gaps, (max(row["paused_at"], start), end)]
        result[site_id] = Timeline(
            start,
            end,
            _states(row, changes.get(site_id, []), start),
            maintenance.get(site_id, []),
            gaps,
        )
    return result


def uptime_many(
    sites: Iterable[Site | int],
    periods: dict[str, timedelta] = PERIODS,
    *,
    now: datetime | None = None,
) -> dict[int, dict[str, float | None]]:
    """{site id: {"24h": percent or None, ...}} for each period up to now."""
    now = now or timezone.now()
    longest = max(periods.values())
    lines = timelines(sites, now - longest, now)
    return {
        site_id: {name: line.measure(now - span, now).uptime for name, span in periods.items()}
        for site_id, line in lines.items()
    }


def measures_many(
    sites: Iterable[Site | int],
    periods: dict[str, timedelta] = PERIODS,
    *,
    now: datetime | None = None,
) -> dict[int, dict[str, Measure]]:
    """As uptime_many, with the seconds behind each figure."""
    now = now or timezone.now()
    lines = timelines(sites, now - max(periods.values()), now)
    return {
        site_id: {name: line.measure(now - span, now) for name, span in periods.items()}
        for site_id, line in lines.items()
    }


def daily_many(
    sites: Iterable[Site | int],
    days: int = 90,
    *,
    now: datetime | None = None,
    zone=UTC,
) -> dict[int, list[Day]]:
    """Each site's last `days` calendar days in `zone`, oldest first, today (so far) last."""
    now = now or timezone.now()
    today = now.astimezone(zone).date()
    firsts = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
    edges = [datetime.combine(day, datetime.min.time(), tzinfo=zone) for day in firsts]
    edges.append(now)
    lines = timelines(sites, edges[0], now)
    return {
        site_id: [
            Day(day, line.measure(edges[index], edges[index + 1]))
            for index, day in enumerate(firsts)
        ]
        for site_id, line in lines.items()
    }


def maintenance_periods_many(
    sites: Iterable[dict], start: datetime, end: datetime
) -> dict[int, list[Period]]:
    """{site id: maintenance periods within [start, end)}, for rows with pk and project_id."""
    by_project: dict[int, list[int]] = defaultdict(list)
    for row in sites:
        by_project[row["project_id"]].append(row["pk"])
    if not by_project:
        return {}
    windows = list(
        MaintenanceWindow.objects.filter(project_id__in=by_project, starts_at__lt=end).filter(
            Q(ends_by__isnull=True) | Q(ends_by__gt=start)
        )
    )
    chosen: dict[int, set[int]] = defaultdict(set)
    through = MaintenanceWindow.sites.through.objects.filter(
        maintenancewindow_id__in=[w.pk for w in windows]
    )
    for window_id, site_id in through.values_list("maintenancewindow_id", "site_id"):
        chosen[window_id].add(site_id)
    result: dict[int, list[Period]] = defaultdict(list)
    for window in windows:
        periods = [(max(a, start), min(b, end)) for a, b in occurrences(window, start, end)]
        if not periods:
            continue
        covered = chosen.get(window.pk)
        for site_id in by_project[window.project_id]:
            if covered is None or site_id in covered:
                result[site_id].extend(periods)
    return {site_id: _merge(periods) for site_id, periods in result.items()}


def _gaps(ids: Sequence[int], start: datetime, end: datetime) -> dict[int, list[Period]]:
    rows = MonitoringGap.objects.filter(
        site_id__in=_many(ids), ended_at__gt=start, started_at__lt=end
    )
    result: dict[int, list[Period]] = defaultdict(list)
    for site_id, begin, finish in rows.values_list("site_id", "started_at", "ended_at"):
        result[site_id].append((max(begin, start), min(finish, end)))
    return result


def _states(
    row: dict, changes: list[tuple[datetime, str, str]], start: datetime
) -> list[tuple[datetime, str]]:
    """The site's (from, state) list over the range, starting at `start`."""
    known_since = _known_since(row)
    before = changes[0][1] if changes else row["status"]
    states: list[tuple[datetime, str]] = []
    if known_since is None or known_since > start:
        states.append((start, UNKNOWN))
        if known_since is not None and (not changes or known_since < changes[0][0]):
            states.append((known_since, before))
    else:
        states.append((start, before))
    for at, _, after in changes:
        states.append((at, after))
    return states


def _known_since(row: dict) -> datetime | None:
    if row["first_at"] is not None:
        # Left unknown by a transition: known from then on (and that
        # transition is in the list). Otherwise the first check was a silent
        # success: known since creation, as near as the record tells.
        return row["first_at"] if row["first_from"] == UNKNOWN else row["created_at"]
    if row["status"] == UNKNOWN:
        return None
    return row["status_changed_at"] or row["created_at"]


def _many(ids: Sequence[int]):
    """The ids for an `__in` lookup: on PostgreSQL one array parameter, not one per id.

    psycopg splits a query of 10,000 placeholders in about a second.
    """
    if connection.vendor != "postgresql" or len(ids) < 100:
        return ids
    return RawSQL("SELECT unnest(%s::bigint[])", [int_array_literal(ids)])


def _length(period: Period) -> float:
    return max((period[1] - period[0]).total_seconds(), 0.0)


def _merge(periods: Iterable[Period]) -> list[Period]:
    merged: list[Period] = []
    for begin, finish in sorted(p for p in periods if p[1] > p[0]):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def _overlap(period: Period, merged: list[Period]) -> float:
    """Seconds of `period` inside the merged (sorted, disjoint) periods."""
    total = 0.0
    for begin, finish in merged:
        if finish <= period[0]:
            continue
        if begin >= period[1]:
            break
        total += _length((max(begin, period[0]), min(finish, period[1])))
    return total


def _subtract(periods: list[Period], holes: list[Period]) -> list[Period]:
    result = []
    for begin, finish in periods:
        for hole_begin, hole_end in holes:
            if hole_end <= begin or hole_begin >= finish:
                continue
            if hole_begin > begin:
                result.append((begin, hole_begin))
            begin = max(begin, hole_end)
        if finish > begin:
            result.append((begin, finish))
    return result
