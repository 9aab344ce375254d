"""Maintenance starts and ends: a notice to each default channel that wants one.

Found by beat's follow-up tick: an occurrence that started or ended within
LOOKBACK of now, in a project with a channel wanting the event. Each notice
is keyed by its window and occurrence, so it exists once per channel however
many ticks or beats see it; a notice older than LOOKBACK (beat was down) is
history, not news, and is not sent.
"""

from datetime import datetime, timedelta

from monitor.maintenance import occurrences
from monitor.models import MaintenanceWindow
from notifications import messages, routing
from notifications.models import Channel

LOOKBACK = timedelta(minutes=10)
EVENTS = (messages.MAINTENANCE_START, messages.MAINTENANCE_END)


def route_maintenance_notices(*, now: datetime) -> list[int]:
    """Create the notices due now; return the ids to queue (after commit)."""
    listening: dict[int, list[Channel]] = {}
    for channel in Channel.objects.filter(enabled=True, is_default=True):
        if not channel.is_escalation and any(channel.wants(e) for e in EVENTS):
            listening.setdefault(channel.project_id, []).append(channel)
    if not listening:
        return []
    created = []
    since = now - LOOKBACK
    for window in MaintenanceWindow.objects.filter(project_id__in=listening):
        for start, end in occurrences(window, since, now + timedelta(seconds=1)):
            for event, moment in (
                (messages.MAINTENANCE_START, start),
                (messages.MAINTENANCE_END, end),
            ):
                if not since < moment <= now:
                    continue
                channels = [c for c in listening[window.project_id] if c.wants(event)]
                created += routing.create(
                    channels,
                    event=event,
                    key=f"mw{window.pk}-{int(start.timestamp())}-{event}",
                    context=_context(window, event, start, end),
                )
    return created


def _context(window: MaintenanceWindow, event: str, start: datetime, end: datetime) -> dict:
    covered = window.sites.count()
    scope = f"{covered} monitor{'s' if covered != 1 else ''}" if covered else "every monitor"
    if event == messages.MAINTENANCE_START:
        title = f"Maintenance starts: {window.title}"
        lines = [f"Until {messages.format_utc(end)}, for {scope}; alerts are muted."]
    else:
        title = f"Maintenance ended: {window.title}"
        lines = [f"It ran from {messages.format_utc(start)}; alerts are on again for {scope}."]
    if window.description:
        lines.append(window.description)
    return {"title": title, "lines": lines}
