"""What the dashboard's list shows: search, filters, sort, grouping, uptime and sparklines.

Everything here is batched for one page of sites: the figures of a page cost
a fixed number of queries, whatever the number of sites (bench/status_read.py).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Lower
from django.utils import timezone

from monitor.availability import uptime_many
from monitor.models import CheckRollup
from sites.models import Site

# State filter values: the stored statuses of enabled monitors, and paused.
STATES = {
    "up": "Up",
    "degraded": "Degraded",
    "down": "Down",
    "unknown": "Unknown",
    "paused": "Paused",
}
SORTS = {
    "status": "Status (most urgent first)",
    "name": "Name",
    "response": "Response time (slowest first)",
    "checked": "Last checked (most recent first)",
}
DEFAULT_SORT = "status"
UPTIME_PERIOD = {"24h": timedelta(hours=24)}
SPARK_HOURS = 24
SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 96, 24, 2
COLOR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class ListQuery:
    """The list's GET parameters, cleaned (sites.forms.DashboardFilterForm)."""

    q: str = ""
    state: str = ""
    tag: str = ""
    sort: str = DEFAULT_SORT
    group: bool = False

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.state or self.tag)

    def params(self) -> list[tuple[str, str]]:
        """The non-default parameters, in a fixed order, for links and the poll."""
        pairs = [("q", self.q), ("state", self.state), ("tag", self.tag)]
        pairs.append(("sort", "" if self.sort == DEFAULT_SORT else self.sort))
        pairs.append(("group", "tag" if self.group else ""))
        return [(name, value) for name, value in pairs if value]


def query_string(*pairs: tuple[str, str]) -> str:
    return urlencode([(name, value) for name, value in pairs if value])


def site_rows(sites: QuerySet[Site], query: ListQuery) -> QuerySet[Site]:
    """The sites filtered and ordered as asked; grouped, one row per (tag, site).

    A unique column ends each order, so no site shows on two pages.
    """
    sites = _filtered(sites, query)
    order = _order(query.sort)
    if query.group:
        # LEFT JOIN on the tags: a site with three tags is three rows, an
        # untagged one a single row with group_name NULL (shown last).
        sites = sites.annotate(group_name=F("tags__name"), group_color=F("tags__color"))
        order = [F("group_name").asc(nulls_last=True), *order]
    return sites.annotate(rank=_urgency()).order_by(*order)


def _filtered(sites: QuerySet[Site], query: ListQuery) -> QuerySet[Site]:
    if query.q:
        sites = sites.filter(Q(name__icontains=query.q) | Q(url__icontains=query.q))
    if query.state == "paused":
        sites = sites.filter(enabled=False)
    elif query.state:
        sites = sites.filter(enabled=True, status=query.state)
    if query.tag:
        # EXISTS, not a join: filtering must not repeat a site per matching tag.
        tagged = Site.tags.through.objects.filter(site_id=OuterRef("pk"), tag__name=query.tag)
        sites = sites.filter(Exists(tagged))
    return sites


def _urgency() -> Case:
    # What needs attention first: down, degraded, not yet checked, then up.
    return Case(
        When(status=Site.Status.DOWN, then=Value(0)),
        When(status=Site.Status.DEGRADED, then=Value(1)),
        When(status=Site.Status.UNKNOWN, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )


def _order(sort: str) -> list:
    label = Lower(Case(When(name="", then=F("url")), default=F("name"), output_field=CharField()))
    if sort == "name":
        return [label, "url", "id"]
    if sort == "response":
        return [F("last_response_ms").desc(nulls_last=True), label, "id"]
    if sort == "checked":
        return [F("last_checked_at").desc(nulls_last=True), label, "id"]
    return ["rank", "name", "url", "id"]


# --- figures of one page --------------------------------------------------------


@dataclass(frozen=True)
class Sparkline:
    """A site's hourly average response times over the last day, as an SVG path."""

    path: str
    minimum: int
    average: int
    maximum: int
    hours: int

    @property
    def label(self) -> str:
        return (
            f"Response time over {SPARK_HOURS} hours: min {self.minimum} ms, "
            f"avg {self.average} ms, max {self.maximum} ms"
        )


def page_figures(sites: list[Site], *, now: datetime | None = None) -> None:
    """Set .uptime_24h, .sparkline and .tag_chips on each site of one page.

    Uptime: monitor.availability over the page's sites only. Sparklines: one
    query for the page's hourly rollups (the rollup's unique index on site,
    period, bucket_start serves it as a range scan per site).
    """
    now = now or timezone.now()
    ids = sorted({site.pk for site in sites})
    uptime = uptime_many(ids, UPTIME_PERIOD, now=now)
    lines = sparklines(ids, now=now)
    for site in sites:
        site.uptime_24h = (uptime.get(site.pk) or {}).get("24h")
        site.sparkline = lines.get(site.pk)
        # From prefetch_related("tags"): no query per site.
        site.tag_chips = [(tag.name, safe_color(tag.color)) for tag in site.tags.all()]


def sparklines(ids: list[int], *, now: datetime) -> dict[int, Sparkline]:
    """{site id: Sparkline} from the last SPARK_HOURS hourly rollups (this hour's included)."""
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    first = this_hour - timedelta(hours=SPARK_HOURS - 1)
    rows = CheckRollup.objects.filter(
        site_id__in=ids,
        period=CheckRollup.Period.HOUR,
        bucket_start__gte=first,
        bucket_start__lte=this_hour,
        rt_count__gt=0,
    ).values_list("site_id", "bucket_start", "rt_sum", "rt_count", "rt_min", "rt_max")
    hours: dict[int, list] = defaultdict(list)
    for site_id, start, rt_sum, rt_count, rt_min, rt_max in rows:
        index = int((start - first).total_seconds() // 3600)
        hours[site_id].append((index, rt_sum, rt_count, rt_min, rt_max))
    return {site_id: _sparkline(points) for site_id, points in hours.items()}


def _sparkline(points: list[tuple]) -> Sparkline:
    points.sort()
    averages = [(index, rt_sum / rt_count) for index, rt_sum, rt_count, _, _ in points]
    total = sum(p[1] for p in points)
    count = sum(p[2] for p in points)
    lows = [p[3] for p in points if p[3] is not None]
    highs = [p[4] for p in points if p[4] is not None]
    top = max(avg for _, avg in averages) or 1
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / (SPARK_HOURS - 1)
    inner = SPARK_HEIGHT - 2 * SPARK_PAD
    commands, previous = [], None
    for index, avg in averages:
        x = SPARK_PAD + index * step
        y = SPARK_PAD + inner * (1 - avg / top)
        # A missing hour breaks the line (M) rather than drawing across it.
        move = "L" if previous is not None and index == previous + 1 else "M"
        commands.append(f"{move}{x:.1f} {y:.1f}")
        previous = index
    # A lone point (no neighbour on either side) is drawn as a dot: a tiny
    # segment with round caps (dashboard.css).
    path = " ".join(commands)
    lone = [
        cmd
        for i, cmd in enumerate(commands)
        if cmd.startswith("M") and (i + 1 == len(commands) or commands[i + 1].startswith("M"))
    ]
    if lone:
        path += " " + " ".join(f"{cmd} h0.1" for cmd in lone)
    average = total / count
    return Sparkline(
        path=path,
        minimum=round(min(lows) if lows else min(avg for _, avg in averages)),
        average=round(average),
        maximum=round(max(highs) if highs else top),
        hours=len(points),
    )


def safe_color(color: str) -> str:
    """The tag's colour if it is a "#rrggbb" (the only form the page writes), else grey."""
    return color if color and COLOR.fullmatch(color) else "#64748b"
