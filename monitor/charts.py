"""Response-time series for a monitor's chart: one point per time bucket.

The last 24 hours come from the checks themselves, bucketed here: the
recent hours' rows and the older hours' packed blocks (monitor.packing), two
queries; a day of 10-second checks is 8,640 of them. Longer ranges come from
the rollups, which exist for as long as UPTIME_ROLLUP_RETENTION_DAYS: hourly
for 7 days, daily beyond (today summed from its hours), one or two queries
whatever the number of checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from monitor.history import day_rollups
from monitor.models import Check, CheckRollup
from monitor.packing import packed_checks


@dataclass(frozen=True)
class Range:
    key: str
    label: str
    span: timedelta
    # None: raw checks, bucketed into `buckets`; else a rollup period.
    period: int | None
    buckets: int = 0


RANGES: dict[str, Range] = {
    r.key: r
    for r in (
        # 192 buckets of 7.5 minutes: enough to see a spike, few enough to draw.
        Range("24h", "24 hours", timedelta(hours=24), None, buckets=192),
        Range("7d", "7 days", timedelta(days=7), CheckRollup.Period.HOUR),
        Range("30d", "30 days", timedelta(days=30), CheckRollup.Period.DAY),
        Range("1y", "1 year", timedelta(days=365), CheckRollup.Period.DAY),
    )
}
DEFAULT_RANGE = "24h"


@dataclass(frozen=True)
class Point:
    """One bucket: [start, end), its checks and response times in ms (None: no timing)."""

    start: datetime
    end: datetime
    checks: int
    failures: int
    # Checks with a response time: the weight of avg_ms.
    timed: int
    avg_ms: float | None
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class Series:
    range: Range
    start: datetime
    end: datetime
    points: list[Point]

    @property
    def checks(self) -> int:
        return sum(p.checks for p in self.points)

    @property
    def failures(self) -> int:
        return sum(p.failures for p in self.points)

    @property
    def avg_ms(self) -> float | None:
        """The mean of every timed check, weighted by how many each point holds."""
        total = sum(p.timed for p in self.points if p.avg_ms is not None)
        if not total:
            return None
        return sum(p.avg_ms * p.timed for p in self.points if p.avg_ms is not None) / total

    @property
    def highest_ms(self) -> float | None:
        values = [v for p in self.points for v in (p.avg_ms, p.p95_ms) if v is not None]
        return max(values, default=None)


def range_of(key: str | None) -> Range:
    """The range a request names; an unknown or missing name is the default one."""
    return RANGES.get(key or "", RANGES[DEFAULT_RANGE])


def response_series(
    site_id: int, key: str = DEFAULT_RANGE, *, now: datetime | None = None
) -> Series:
    chosen = range_of(key)
    now = now or timezone.now()
    if chosen.period is None:
        return _from_checks(site_id, chosen, now)
    return _from_rollups(site_id, chosen, now)


def nearest_rank(sorted_values: list[int], fraction: float) -> float | None:
    """The nearest-rank percentile of already sorted values (as the rollups estimate it)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(round(fraction * len(sorted_values), 9)))
    return float(sorted_values[rank - 1])


def _from_checks(site_id: int, chosen: Range, now: datetime) -> Series:
    rows = [(at, up, ms) for _, at, up, ms in _checks_of(site_id, now - chosen.span, now)]
    return _bucketed(rows, chosen, now)


def _checks_of(site_id: int, start: datetime, end: datetime):
    """(location_id, checked_at, up, response_ms) of a site's checks in [start, end).

    The recent hours' rows and the older hours' packed blocks.
    """
    rows = Check.objects.filter(site_id=site_id, checked_at__gte=start, checked_at__lt=end)
    # order_by(): the model's ordering would make the database sort for nothing.
    yield from rows.order_by().values_list("location_id", "checked_at", "up", "response_ms")
    for _, location_id, check in packed_checks(start=start, end=end, site_id=site_id):
        yield location_id, check.checked_at, check.up, check.response_ms


def series_by_location(
    site_id: int, *, now: datetime | None = None
) -> tuple[Series, dict[int, Series]]:
    """The last 24 hours from the checks: all of them, and each location's on its own.

    Only checks say where they were made from (rollups do not), hence only 24 h.
    """
    chosen = RANGES[DEFAULT_RANGE]
    now = now or timezone.now()
    every: list[tuple] = []
    by_location: dict[int, list[tuple]] = {}
    for location_id, *row in _checks_of(site_id, now - chosen.span, now):
        every.append(row)
        by_location.setdefault(location_id, []).append(row)
    return _bucketed(every, chosen, now), {
        location_id: _bucketed(checks, chosen, now)
        for location_id, checks in sorted(by_location.items())
    }


def _bucketed(rows, chosen: Range, now: datetime) -> Series:
    """(checked_at, up, response_ms) rows of [now - span, now) as the range's buckets."""
    start = now - chosen.span
    width = chosen.span / chosen.buckets
    counts = [0] * chosen.buckets
    failures = [0] * chosen.buckets
    times: list[list[int]] = [[] for _ in range(chosen.buckets)]
    for at, up, ms in rows:
        index = min(int((at - start) / width), chosen.buckets - 1)
        counts[index] += 1
        failures[index] += not up
        if up and ms is not None:
            # A failed check's time is how long it took to fail (0 ms for a
            # refused connection, the timeout for a timeout): not the site's
            # speed. The rollups count them (monitor.history), so on the
            # longer ranges a failure can pull a day's figures a little.
            times[index].append(ms)
    points = []
    for index in range(chosen.buckets):
        values = sorted(times[index])
        points.append(
            Point(
                start=start + index * width,
                end=start + (index + 1) * width,
                checks=counts[index],
                failures=failures[index],
                timed=len(values),
                avg_ms=sum(values) / len(values) if values else None,
                p50_ms=nearest_rank(values, 0.5),
                p95_ms=nearest_rank(values, 0.95),
            )
        )
    return Series(chosen, start, now, points)


def _from_rollups(site_id: int, chosen: Range, now: datetime) -> Series:
    length = timedelta(hours=chosen.period)
    # The first bucket is the one that holds `now - span`, so the chart is
    # never emptier than the range at its left edge.
    start = _floor(now - chosen.span, length)
    if chosen.period == CheckRollup.Period.DAY:
        rows = day_rollups(site_id, start, now)  # today from its hours
    else:
        rows = CheckRollup.objects.filter(
            site_id=site_id, period=chosen.period, bucket_start__gte=start, bucket_start__lte=now
        ).order_by("bucket_start")
    points = [
        Point(
            start=row.bucket_start,
            end=row.bucket_start + length,
            checks=row.checks,
            failures=row.failures,
            timed=row.rt_count,
            avg_ms=row.rt_avg,
            p50_ms=row.percentile_ms(0.5),
            p95_ms=row.percentile_ms(0.95),
        )
        for row in rows
    ]
    return Series(chosen, start, now, points)


def _floor(moment: datetime, length: timedelta) -> datetime:
    """The start of the UTC hour or day that holds `moment` (rollups' buckets are UTC)."""
    floored = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if length >= timedelta(days=1):
        floored = floored.replace(hour=0)
    return floored
