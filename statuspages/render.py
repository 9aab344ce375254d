"""What a public status page shows, as one plain structure for its HTML, JSON and feeds.

Everything the public may read passes through here, so the leak rules live in
one place: a monitor is named by its display name (or the site's name; its
URL only with show_urls), with its state and uptime; its response time only
with show_response_times, its error text only with show_errors. No site id,
project, member name or internal note leaves this module.

The overall state, most severe first:
- "major": an open incident of major impact, or more than half the page's
  monitors down;
- "partial": any monitor down or degraded, or an open incident of minor impact;
- "maintenance": a monitor of the page in a maintenance window now;
- "operational" otherwise.
Paused, unchecked and in-maintenance monitors are not counted as down.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Prefetch
from django.utils import timezone

from monitor.availability import daily_many, uptime_many
from monitor.maintenance import current_or_next
from monitor.models import MaintenanceWindow
from sites.models import Site
from statuspages.models import (
    StatusIncident,
    StatusIncidentUpdate,
    StatusPage,
    StatusPageGroup,
    StatusPageMonitor,
)

# The uptime figures a page shows, and the days of its bars.
UPTIME_PERIODS = {"24h": timedelta(hours=24), "30d": timedelta(days=30), "90d": timedelta(days=90)}
BAR_DAYS = 90
# Resolved incidents shown as "past incidents", and how far ahead maintenance is announced.
PAST_DAYS = 14
MAINTENANCE_AHEAD = timedelta(days=60)

OVERALL = {
    "major": "Major outage",
    "partial": "Partial outage",
    "maintenance": "Under maintenance",
    "operational": "All systems operational",
}
STATE_LABELS = {
    "up": "Operational",
    "degraded": "Degraded performance",
    "down": "Outage",
    "maintenance": "Under maintenance",
    "paused": "Paused",
    "unknown": "No data yet",
}
# A day's bar: full uptime is "up", at least DAY_MINOR percent "minor", less "major".
DAY_GOOD, DAY_MINOR = 100.0, 99.0
# Width of a day in a bar's SVG units (DAY_STEP - 1 drawn, 1 of gap between runs).
DAY_STEP = 4


@dataclass(frozen=True)
class Run:
    """Consecutive days of a bar that look the same, drawn as one rectangle."""

    first: int  # index of its first day, 0 the oldest
    length: int
    level: str  # "up", "minor", "major", "none"
    label: str

    @property
    def x(self) -> int:
        return self.first * DAY_STEP

    @property
    def width(self) -> int:
        return self.length * DAY_STEP - 1


def page_data(page: StatusPage, *, now: datetime | None = None) -> dict:
    """Everything the page shows, JSON-ready but for datetimes and dates."""
    now = now or timezone.now()
    entries = list(
        StatusPageMonitor.objects.filter(page=page)
        .select_related("site")
        .only(
            "group_id",
            "display_name",
            "position",
            "site__id",
            "site__name",
            "site__url",
            "site__status",
            "site__enabled",
            "site__project_id",
            "site__last_response_ms",
            "site__last_error_message",
        )
    )
    site_ids = [entry.site_id for entry in entries]
    names = {
        entry.site_id: _display_name(page, entry, index) for index, entry in enumerate(entries)
    }
    windows = _windows(page, site_ids, names, now)
    in_maintenance = {
        site_id for window in windows if window["active"] for site_id in window["site_ids"]
    }
    uptime = uptime_many(site_ids, UPTIME_PERIODS, now=now)
    days = daily_many(site_ids, BAR_DAYS, now=now)
    monitors = {
        entry.site_id: _monitor(page, entry, names, in_maintenance, uptime, days)
        for entry in entries
    }
    groups = []
    for group in StatusPageGroup.objects.filter(page=page):
        shown = [monitors[e.site_id] for e in entries if e.group_id == group.pk]
        if shown:
            groups.append({"name": group.name, "monitors": shown})
    incidents = _incidents(page, names, now)
    overall = overall_state(list(monitors.values()), incidents["open"])
    return {
        "page": {
            "title": page.title,
            "description": page.description,
            "hasLogo": bool(page.logo_type),
            "logoVersion": int(page.updated_at.timestamp()),
            "updatedAt": page.updated_at,
        },
        "status": {"indicator": overall, "description": OVERALL[overall]},
        "groups": groups,
        "incidents": incidents["open"],
        "pastIncidents": incidents["past"],
        "maintenance": [
            {key: value for key, value in window.items() if key != "site_ids"} for window in windows
        ],
        "generatedAt": now,
    }


def overall_state(monitors: list[dict], open_incidents: list[dict]) -> str:
    """The page's one-word state from its monitors and open incidents (rule: module doc)."""
    states = [monitor["status"] for monitor in monitors]
    impacts = {incident["impact"] for incident in open_incidents if incident["kind"] == "incident"}
    down = states.count("down")
    if "major" in impacts or (states and down * 2 > len(states)):
        return "major"
    if down or "degraded" in states or "minor" in impacts:
        return "partial"
    if "maintenance" in states:
        return "maintenance"
    return "operational"


def _display_name(page: StatusPage, entry: StatusPageMonitor, index: int) -> str:
    if entry.display_name:
        return entry.display_name
    if entry.site.name:
        return entry.site.name
    if page.show_urls and entry.site.url:
        return entry.site.url
    return f"Service {index + 1}"


def _monitor(page, entry, names, in_maintenance, uptime, days) -> dict:
    site = entry.site
    status = site.display_status(in_maintenance=site.pk in in_maintenance)
    shown = {
        "name": names[site.pk],
        "status": status,
        "statusLabel": STATE_LABELS.get(status, status),
        "uptime": uptime.get(site.pk, dict.fromkeys(UPTIME_PERIODS)),
        "days": [
            {"date": day.day, "uptime": day.uptime, "maintenance": day.measure.maintenance > 0}
            for day in days.get(site.pk, [])
        ],
    }
    if page.show_urls:
        shown["url"] = site.url
    if page.show_response_times:
        shown["responseMs"] = site.last_response_ms if status in ("up", "degraded") else None
    if page.show_errors:
        shown["error"] = site.last_error_message if status in ("down", "degraded") else ""
    return shown


def day_level(uptime: float | None) -> str:
    if uptime is None:
        return "none"
    if uptime >= DAY_GOOD:
        return "up"
    return "minor" if uptime >= DAY_MINOR else "major"


def runs(days: list[dict]) -> list[Run]:
    """A bar's days as runs of the same look; a day with downtime is always its own run."""
    spans: list[list] = []  # [first index, length, level]
    for index, day in enumerate(days):
        level = day_level(day["uptime"])
        if spans and spans[-1][2] == level and level in ("up", "none"):
            spans[-1][1] += 1
        else:
            spans.append([index, 1, level])
    return [
        Run(first, length, level, _run_label(days[first]["date"], days[first + length - 1], level))
        for first, length, level in spans
    ]


def html_context(data: dict) -> dict:
    """The page's data with what its template draws: each bar's runs and the figures' texts."""
    groups = [
        {**group, "monitors": [_html_monitor(monitor) for monitor in group["monitors"]]}
        for group in data["groups"]
    ]
    return {
        "data": {**data, "groups": groups},
        "bar_width": BAR_DAYS * DAY_STEP - 1,
        "bar_days": BAR_DAYS,
        "past_days": PAST_DAYS,
    }


def _html_monitor(monitor: dict) -> dict:
    found = runs(monitor["days"])
    counts = {level: sum(r.length for r in found if r.level == level) for level in LEVEL_TEXT}
    summary = ", ".join(
        f"{counts[level]} {'day' if counts[level] == 1 else 'days'} {text}"
        for level, text in LEVEL_TEXT.items()
        if counts[level]
    )
    figures = [
        (label, percent_text(monitor["uptime"].get(period)))
        for period, label in (("24h", "24 hours"), ("30d", "30 days"), ("90d", "90 days"))
    ]
    return {**monitor, "runs": {"runs": found, "summary": summary}, "figures": figures}


LEVEL_TEXT = {
    "up": "without downtime",
    "minor": "with under 1% downtime",
    "major": "with 1% downtime or more",
    "none": "without data",
}


def percent_text(value: float | None) -> str:
    if value is None:
        return "no data"
    # Rounded down: 99.996 is not 100.00.
    return "100%" if value >= 100 else f"{math.floor(value * 100) / 100:.2f}%"


def _run_label(first: date, last: dict, level: str) -> str:
    span = (
        _day_text(first)
        if first == last["date"]
        else f"{_day_text(first)} to {_day_text(last['date'])}"
    )
    if level == "none":
        return f"{span}: no data"
    if level == "up":
        return f"{span}: no downtime"
    return f"{span}: {last['uptime']:.2f}% up"


def _day_text(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def _incidents(page: StatusPage, names: dict[int, str], now: datetime) -> dict[str, list]:
    recent = now - timedelta(days=PAST_DAYS)
    rows = (
        StatusIncident.objects.filter(page=page)
        .exclude(resolved_at__lt=recent)
        .prefetch_related(
            Prefetch(
                "updates",
                queryset=StatusIncidentUpdate.objects.only(
                    "incident_id", "status", "message", "created_at"
                ),
            ),
            Prefetch("sites", queryset=Site.objects.only("id")),
        )
    )
    found: dict[str, list] = {"open": [], "past": []}
    for incident in rows:
        updates = [
            {
                "status": update.status,
                "statusLabel": update.get_status_display(),
                "message": update.message,
                "createdAt": update.created_at,
            }
            for update in incident.updates.all()
        ]
        shown = {
            "id": incident.pk,
            "kind": incident.kind,
            "title": incident.title,
            "impact": incident.impact,
            "createdAt": incident.created_at,
            "resolvedAt": incident.resolved_at,
            # Only monitors the page shows are named; others are none of the public's business.
            "monitors": [names[s.pk] for s in incident.sites.all() if s.pk in names],
            "updates": updates,
            "updatedAt": max([incident.created_at, *(u["createdAt"] for u in updates)]),
        }
        found["past" if incident.resolved_at else "open"].append(shown)
    return found


def _windows(
    page: StatusPage, site_ids: list[int], names: dict[int, str], now: datetime
) -> list[dict]:
    """The current or next occurrence of each window covering a monitor of the page."""
    if not site_ids:
        return []
    chosen = MaintenanceWindow.sites.through.objects.filter(
        maintenancewindow__project_id=page.project_id
    ).values_list("maintenancewindow_id", "site_id")
    covers: dict[int, set[int]] = {}
    for window_id, site_id in chosen:
        covers.setdefault(window_id, set()).add(site_id)
    candidates = MaintenanceWindow.objects.filter(
        project_id=page.project_id, starts_at__lt=now + MAINTENANCE_AHEAD
    ).exclude(ends_by__lte=now)
    found = []
    for window in candidates:
        covered = covers.get(window.pk)
        on_page = set(site_ids) if covered is None else covered & set(site_ids)
        if not on_page:
            continue
        period = current_or_next(window, now)
        if period is None or period[0] >= now + MAINTENANCE_AHEAD:
            continue
        found.append(
            {
                # Not the window's id: a stable, opaque name for feeds and anchors.
                "id": _opaque(f"maintenance:{page.pk}:{window.pk}"),
                "title": window.title,
                "description": window.description,
                "startsAt": period[0],
                "endsAt": period[1],
                "active": period[0] <= now,
                "site_ids": on_page,
                "monitors": [names[site_id] for site_id in site_ids if site_id in on_page],
            }
        )
    found.sort(key=lambda window: window["startsAt"])
    return found


def _opaque(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
