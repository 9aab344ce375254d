"""What the dashboard's list shows: search, filters, sort, grouping, uptime and sparklines.

Everything here is batched for one page of sites: the figures of a page cost
a fixed number of queries, whatever the number of sites (bench/status_read.py).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db import connection
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


def site_rows(sites: QuerySet[Site], query: ListQuery) -> QuerySet:
    """(id, tag name, tag colour) of the sites filtered and ordered as asked.

    Grouped, one row per (tag, site), an untagged site once with no tag name;
    else the tag columns are None. Narrow on purpose: sorting 10,000 ids
    costs half what sorting 10,000 whole rows does; page_sites then reads the
    50 rows of one page. A unique column ends each order, so no site
    shows on two pages.
    """
    sites = _filtered(sites, query).annotate(rank=_urgency())
    order = _order(query.sort)
    if query.group:
        # LEFT JOIN on the tags: a site with three tags is three rows, an
        # untagged one a single row with group_name NULL (shown last).
        sites = sites.annotate(group_name=F("tags__name"), group_color=F("tags__color"))
        order = [F("group_name").asc(nulls_last=True), *order]
    else:
        none = Value(None, output_field=CharField())
        sites = sites.annotate(group_name=none, group_color=none)
    return sites.order_by(*order).values_list("pk", "group_name", "group_color")


# The columns a row shows (sites.dashboard_rows): the other ten dates and two
# JSON columns of 50 sites cost more to load than the rows do to write.
ROW_FIELDS = (
    "project_id",
    "kind",
    "url",
    "name",
    "enabled",
    "status",
    "last_checked_at",
    "last_status_code",
    "last_response_ms",
    "last_error_message",
)


def page_sites(rows: list[tuple], sites: QuerySet[Site]) -> list[Site]:
    """The sites of one page's rows (ROW_FIELDS), in the rows' order, with their tags.

    A site shown under two tags is two objects, each with its group_name.
    """
    found = sites.filter(pk__in={pk for pk, _, _ in rows}).only(*ROW_FIELDS).in_bulk()
    result, seen = [], set()
    for pk, name, color in rows:
        site = found.get(pk)
        if site is None:  # deleted between the two queries
            continue
        if pk in seen:
            site = copy.copy(site)
        seen.add(pk)
        site.group_name, site.group_color = name, color
        result.append(site)
    return result


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


@dataclass(frozen=True)
class Group:
    """The rows under one tag (name None: the untagged ones, or the whole page ungrouped)."""

    name: str | None
    color: str
    sites: list[Site]


def page_groups(sites: list[Site], *, grouped: bool) -> list[Group]:
    """The page's rows by tag, in their order (site_rows sorted them by tag first)."""
    if not grouped:
        return [Group(None, "", sites)]
    groups: list[Group] = []
    for site in sites:
        if not groups or groups[-1].name != site.group_name:
            groups.append(Group(site.group_name, safe_color(site.group_color), []))
        groups[-1].sites.append(site)
    return groups


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
    """Set .uptime_24h, .uptime_text, .sparkline and .tag_chips on each site of one page.

    Uptime: monitor.availability over the page's sites only. Sparklines: one
    query for the page's hourly rollups (the rollup's unique index on site,
    period, bucket_start serves it as a range scan per site).
    """
    now = now or timezone.now()
    ids = sorted({site.pk for site in sites})
    uptime = uptime_many(ids, UPTIME_PERIOD, now=now)
    lines = sparklines(ids, now=now)
    chips = tag_chips(ids)
    for site in sites:
        site.uptime_24h = (uptime.get(site.pk) or {}).get("24h")
        site.uptime_text = "" if site.uptime_24h is None else f"{site.uptime_24h:.2f} %"
        site.sparkline = lines.get(site.pk)
        site.tag_chips = chips.get(site.pk, [])


def tag_chips(ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """{site id: [(tag name, safe colour), ...] by name}: one query, and no Tag objects."""
    links = Site.tags.through.objects.filter(site_id__in=ids).order_by("tag__name", "tag_id")
    result: dict[int, list[tuple[str, str]]] = {}
    for site_id, name, color in links.values_list("site_id", "tag__name", "tag__color"):
        result.setdefault(site_id, []).append((name, safe_color(color)))
    return result


def sparklines(ids: list[int], *, now: datetime) -> dict[int, Sparkline]:
    """{site id: Sparkline} from the last SPARK_HOURS hourly rollups (this hour's included).

    One query, folded per site in SQL: 50 rows of arrays instead of 1,200
    rows for Python to convert one by one. The rollups' unique index (site,
    period, bucket_start) serves it as one range scan per site.
    """
    if not ids:
        return {}
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    first = this_hour - timedelta(hours=SPARK_HOURS - 1)
    q = connection.ops.quote_name
    table = q(CheckRollup._meta.db_table)
    sql = f"""
        SELECT site_id,
               array_agg(hour ORDER BY hour), array_agg(avg_ms ORDER BY hour),
               sum(rt_sum), sum(rt_count), min(rt_min), max(rt_max)
        FROM (SELECT site_id, rt_sum, rt_count, rt_min, rt_max,
                     CAST(rt_sum AS REAL) / rt_count AS avg_ms,
                     CAST(({_epoch("bucket_start")} - %s) / 3600 AS INTEGER) AS hour
              FROM {table}
              WHERE site_id IN ({", ".join(["%s"] * len(ids))}) AND period = %s
                AND bucket_start >= %s AND bucket_start <= %s AND rt_count > 0) AS hours
        GROUP BY site_id
    """  # noqa: S608 - names from _meta, values as parameters
    adapt = connection.ops.adapt_datetimefield_value
    params = [first.timestamp(), *ids, CheckRollup.Period.HOUR, adapt(first), adapt(this_hour)]
    with connection.cursor() as cursor:
        cursor.execute(_sqlite_arrays(sql), params)
        rows = cursor.fetchall()
    result = {}
    for site_id, hours, averages, rt_sum, rt_count, rt_min, rt_max in rows:
        if connection.vendor != "postgresql":  # group_concat's text
            hours = [int(h) for h in hours.split(",")]
            averages = [float(a) for a in averages.split(",")]
        result[site_id] = _sparkline(
            list(zip(hours, averages, strict=True)), rt_sum / rt_count, rt_min, rt_max
        )
    return result


def _epoch(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})"
    return f"CAST(strftime('%%s', {column}) AS REAL)"


def _sqlite_arrays(sql: str) -> str:
    """SQLite has no array_agg: group_concat over the ordered subquery instead."""
    if connection.vendor == "postgresql":
        return sql
    sql = sql.replace("array_agg(hour ORDER BY hour)", "group_concat(hour)")
    sql = sql.replace("array_agg(avg_ms ORDER BY hour)", "group_concat(avg_ms)")
    return sql.replace("rt_count > 0) AS hours", "rt_count > 0 ORDER BY site_id, hour) AS hours")


def _sparkline(points: list[tuple[int, float]], average: float, low, high) -> Sparkline:
    """points: (hour index from 0 to SPARK_HOURS - 1, average ms), oldest first."""
    top = max(avg for _, avg in points) or 1
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / (SPARK_HOURS - 1)
    inner = SPARK_HEIGHT - 2 * SPARK_PAD
    commands, previous = [], None
    for index, avg in points:
        x = SPARK_PAD + index * step
        y = SPARK_PAD + inner * (1 - avg / top)
        # A missing hour breaks the line (M) rather than drawing across it.
        move = "L" if previous is not None and index == previous + 1 else "M"
        commands.append(f"{move}{x:.1f} {y:.1f}")
        previous = index
    # A lone point (no neighbour on either side) is drawn as a dot: a tiny
    # segment with round caps.
    lone = [
        cmd + " h0.1"
        for i, cmd in enumerate(commands)
        if cmd[0] == "M" and (i + 1 == len(commands) or commands[i + 1][0] == "M")
    ]
    return Sparkline(
        path=" ".join(commands + lone),
        minimum=round(low if low is not None else min(avg for _, avg in points)),
        average=round(average),
        maximum=round(high if high is not None else top),
        hours=len(points),
    )


def safe_color(color: str) -> str:
    """The tag's colour if it is a "#rrggbb" (the only form the page writes), else grey."""
    return color if color and COLOR.fullmatch(color) else "#64748b"
