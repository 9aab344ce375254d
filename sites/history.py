"""What the monitor page shows of a site's history, shaped for its templates.

The numbers come from monitor.availability (uptime), monitor.charts
(response times) and monitor.incidents; this module only turns them into
text, colours and chart geometry. The chart is inline SVG drawn on the
server: no script, nothing from a CDN, and it passes the page's CSP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.formats import date_format

from monitor.availability import PERIODS, Day, Measure, daily_many, measures_many
from monitor.charts import (
    DEFAULT_RANGE,
    RANGES,
    Series,
    range_of,
    response_series,
    series_by_location,
)
from monitor.incidents import DEFAULT_LIMIT, NOTE_MAX_LENGTH, incident_list
from monitor.models import Location
from sites.models import Site

CERT_WARNING_DAYS = 14
SLOW_REFRESH_SECONDS = 60
UPTIME_LABELS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days", "365d": "365 days"}
# The chart's drawing box: horizontal positions are percentages of the width
# (the SVG is as wide as its card), vertical ones pixels (its height is fixed),
# so labels keep their size from 360 px to a wide screen.
CHART_HEIGHT = 220
PLOT_TOP = 16
PLOT_BOTTOM = 190
PLOT_WIDTH = 1000  # the plot's own viewBox units across
GRID_LINES = 4
# Colours of the per-location lines (.chart__line--loc<n> in history.css), in turn.
LOCATION_COLOURS = 6


# --- uptime figures ---------------------------------------------------------------


def percent_text(value: float | None) -> str:
    """Three decimals, rounded down: 99.9996 % is "99.999", never a 100 that was not."""
    if value is None:
        return "—"
    return f"{math.floor(value * 1000) / 1000:.3f}"


def duration_text(seconds: float) -> str:
    """A short human duration: "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@dataclass(frozen=True)
class UptimeFigure:
    key: str
    label: str
    percent: str
    measure: Measure

    @property
    def excluded(self) -> list[str]:
        """What was left out of the figure, e.g. ["12 min maintenance excluded"]."""
        parts = []
        if self.measure.maintenance >= 1:
            parts.append(f"{duration_text(self.measure.maintenance)} maintenance excluded")
        if self.measure.not_monitored >= 1:
            parts.append(f"{duration_text(self.measure.not_monitored)} not monitored excluded")
        return parts

    @property
    def downtime(self) -> str:
        return duration_text(self.measure.down) if self.measure.down >= 1 else ""


def uptime_figures(site: Site, *, now: datetime | None = None) -> list[UptimeFigure]:
    measures = measures_many([site], PERIODS, now=now).get(site.pk, {})
    empty = Measure(0.0, 0.0, 0.0, 0.0)
    return [
        UptimeFigure(
            key,
            UPTIME_LABELS[key],
            percent_text(measures.get(key, empty).uptime),
            measures.get(key, empty),
        )
        for key in PERIODS
    ]


# --- the 90-day bar ---------------------------------------------------------------


@dataclass(frozen=True)
class DayCell:
    day: Day
    level: str  # a CSS modifier: none, up, minor, major, down

    @property
    def text(self) -> str:
        date = date_format(self.day.day, "Y-m-d")
        if self.day.uptime is None:
            return f"{date}: no data"
        return f"{date}: {percent_text(self.day.uptime)} % up"


def day_level(uptime: float | None) -> str:
    if uptime is None:
        return "none"
    if uptime >= 100:
        return "up"
    if uptime >= 99:
        return "minor"
    if uptime >= 95:
        return "major"
    return "down"


def day_cells(site: Site, days: int = 90, *, now: datetime | None = None) -> list[DayCell]:
    zone = timezone.get_current_timezone()
    line = daily_many([site], days, now=now, zone=zone).get(site.pk, [])
    return [DayCell(day, day_level(day.uptime)) for day in line]


# --- certificate --------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    expires_at: datetime
    days_left: int

    @property
    def warning(self) -> bool:
        return self.days_left < CERT_WARNING_DAYS

    @property
    def text(self) -> str:
        if self.days_left < 0:
            return f"expired {-self.days_left} day{'s' if self.days_left != -1 else ''} ago"
        return f"{self.days_left} day{'s' if self.days_left != 1 else ''} left"


def certificate(site: Site, *, now: datetime | None = None) -> Certificate | None:
    if site.cert_expires_at is None:
        return None
    left = site.cert_expires_at - (now or timezone.now())
    # Whole days, rounded down: "0 days left" on the last day, not "1".
    return Certificate(site.cert_expires_at, math.floor(left / timedelta(days=1)))


# --- the response-time chart ------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    position: str  # "37.5%" across, or pixels down
    label: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Mark:
    x: str
    width: str
    title: str


@dataclass(frozen=True)
class LocationLine:
    name: str
    label: str
    path: str
    colour: int  # the CSS modifier's number
    avg_ms: float | None


@dataclass(frozen=True)
class Chart:
    series: Series
    height: int
    plot_top: int
    plot_bottom: int
    plot_width: int
    avg_path: str
    p50_path: str
    p95_path: str
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    failures: list[Mark]
    title: str
    summary: str
    # Set when split by location: one average line each, instead of avg/p50/p95.
    location_lines: list[LocationLine] = field(default_factory=list)

    @property
    def plot_height(self) -> int:
        return self.plot_bottom - self.plot_top

    @property
    def empty(self) -> bool:
        if self.location_lines:
            return not any(line.path for line in self.location_lines)
        return not self.avg_path


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `value`."""
    if value <= 0:
        return 100.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def chart(series: Series, by_location: list[tuple[Location, Series]] | None = None) -> Chart:
    """The chart of `series`; with `by_location`, one average line per location on its scale."""
    highest = [s.highest_ms for _, s in by_location or []] + [series.highest_ms]
    top = nice_ceiling(max((h for h in highest if h is not None), default=0))
    span = (series.end - series.start).total_seconds()
    height = PLOT_BOTTOM - PLOT_TOP

    def x_of(point) -> float:
        middle = point.start + (point.end - point.start) / 2
        fraction = (middle - series.start).total_seconds() / span
        return min(max(fraction, 0.0), 1.0)

    def path(values: list[tuple[float, float | None]]) -> str:
        # A bucket without data breaks the line rather than bridging the gap.
        parts, pen_down = [], False
        for fraction, value in values:
            if value is None:
                pen_down = False
                continue
            y = height - height * min(value / top, 1.0)
            parts.append(f"{'L' if pen_down else 'M'}{fraction * PLOT_WIDTH:.1f} {y:.1f}")
            pen_down = True
        return " ".join(parts)

    xs = [x_of(p) for p in series.points]
    return Chart(
        series=series,
        height=CHART_HEIGHT,
        plot_top=PLOT_TOP,
        plot_bottom=PLOT_BOTTOM,
        plot_width=PLOT_WIDTH,
        avg_path=path([(x, p.avg_ms) for x, p in zip(xs, series.points, strict=True)]),
        p50_path=path([(x, p.p50_ms) for x, p in zip(xs, series.points, strict=True)]),
        p95_path=path([(x, p.p95_ms) for x, p in zip(xs, series.points, strict=True)]),
        y_ticks=[
            Tick(
                f"{PLOT_BOTTOM - height * i / GRID_LINES:.1f}",
                f"{_ms_text(top * i / GRID_LINES)}",
            )
            for i in range(GRID_LINES + 1)
        ],
        x_ticks=_x_ticks(series),
        failures=_failure_marks(series),
        title=f"Response time, last {series.range.label}"
        + (", by location" if by_location else ""),
        summary=_summary(series),
        location_lines=[
            LocationLine(
                name=location.name,
                label=location.display_name,
                path=path([(x, p.avg_ms) for x, p in zip(xs, part.points, strict=True)]),
                colour=index % LOCATION_COLOURS,
                avg_ms=part.avg_ms,
            )
            for index, (location, part) in enumerate(by_location or [])
        ],
    )


def _ms_text(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:g} s"
    return f"{ms:g} ms"


def _x_ticks(series: Series) -> list[Tick]:
    span = series.end - series.start
    formats = {"24h": "H:i", "7d": "D j", "30d": "M j", "1y": "M Y"}
    fmt = formats.get(series.range.key, "M j")
    ticks = []
    count = 4
    for i in range(count + 1):
        at = timezone.localtime(series.start + span * i / count)
        anchor = "start" if i == 0 else "end" if i == count else "middle"
        ticks.append(Tick(f"{100 * i / count:g}%", date_format(at, fmt), anchor))
    return ticks


def _failure_marks(series: Series) -> list[Mark]:
    span = (series.end - series.start).total_seconds()
    marks = []
    for point in series.points:
        if not point.failures:
            continue
        left = max((point.start - series.start).total_seconds() / span, 0.0)
        right = min((point.end - series.start).total_seconds() / span, 1.0)
        when = date_format(timezone.localtime(point.start), "Y-m-d H:i")
        plural = "s" if point.failures != 1 else ""
        marks.append(
            Mark(
                f"{100 * left:.3f}%",
                # At least a sliver, so a single failed check in a year is seen.
                f"{max(100 * (right - left), 0.4):.3f}%",
                f"{point.failures} failed check{plural} of {point.checks} from {when}",
            )
        )
    return marks


def _summary(series: Series) -> str:
    if not series.checks:
        return f"No checks in the last {series.range.label}."
    avg = series.avg_ms
    timed = [p for p in series.points if p.avg_ms is not None]
    parts = [f"{series.checks} checks in the last {series.range.label}"]
    if avg is not None:
        parts.append(f"average response {avg:.0f} ms")
        slowest = max(timed, key=lambda p: p.p95_ms or p.avg_ms)
        when = date_format(timezone.localtime(slowest.start), "Y-m-d H:i")
        parts.append(f"slowest p95 {(slowest.p95_ms or slowest.avg_ms):.0f} ms from {when}")
    parts.append(f"{series.failures} failed" if series.failures else "no failures")
    return "; ".join(parts) + "."


def range_links(chosen: str) -> list[dict]:
    return [{"key": key, "label": r.label, "current": key == chosen} for key, r in RANGES.items()]


# --- page contexts -----------------------------------------------------------------


def uptime_context(site: Site) -> dict:
    now = timezone.now()
    return {
        "uptime_figures": uptime_figures(site, now=now),
        "days": day_cells(site, now=now),
        "slow_refresh_seconds": SLOW_REFRESH_SECONDS,
    }


def chart_context(site: Site, range_key: str | None, by: str | None = None) -> dict:
    """The chart; ?by=location splits the last 24 hours by location (raw checks only)."""
    chosen = range_of(range_key)
    split = by == "location" and chosen.key == DEFAULT_RANGE
    if split:
        every, parts = series_by_location(site.pk)
        locations = Location.objects.in_bulk(list(parts))
        drawn = chart(
            every,
            [(locations[i], part) for i, part in parts.items() if i in locations],
        )
    else:
        drawn = chart(response_series(site.pk, chosen.key))
    return {
        "chart": drawn,
        "chart_ranges": range_links(chosen.key),
        "chart_by": "location" if split else "",
        # The switch is offered where it can split: 24 h, with more than one location.
        "chart_can_split": chosen.key == DEFAULT_RANGE and Location.objects.count() > 1,
        "slow_refresh_seconds": SLOW_REFRESH_SECONDS,
    }


def incidents_context(site: Site, *, page: int = 1, limit: int = DEFAULT_LIMIT) -> dict:
    incidents, more = incident_list(site, limit=limit, offset=(page - 1) * limit)
    now = timezone.now()
    return {
        "incidents": [
            {"incident": i, "duration": duration_text(i.duration(now).total_seconds())}
            for i in incidents
        ],
        "incidents_page": page,
        "incidents_more": more,
        "note_max_length": NOTE_MAX_LENGTH,
    }


def history_context(site: Site, *, range_key: str | None = None, by: str | None = None) -> dict:
    """Everything the full monitor page shows beyond the polled part."""
    return {
        "history": True,
        **uptime_context(site),
        **chart_context(site, range_key, by),
        **incidents_context(site),
    }
