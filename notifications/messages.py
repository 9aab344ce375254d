"""What an alert says, once, before any transport formats it.

A `Message` holds plain text; each transport escapes the user's text (a
monitor's name, its target, the failure's reason) for its own format. The
fields marked "user text" may contain anything a user typed or a server
answered: markup, mentions, quotes.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# Channel.Event values (notifications.models), repeated here so transports
# need not import models.
DOWN = "down"
UP = "up"
DEGRADED = "degraded"
CERT_EXPIRING = "cert_expiring"
MAINTENANCE_START = "maintenance_start"
MAINTENANCE_END = "maintenance_end"
REMINDER = "reminder"
ESCALATION = "escalation"
TEST = "test"

# How serious an event is: transports map it to colours, priorities, severities.
CRITICAL = "critical"
WARNING = "warning"
OK = "ok"
INFO = "info"

SEVERITY = {
    DOWN: CRITICAL,
    REMINDER: CRITICAL,
    ESCALATION: CRITICAL,
    DEGRADED: WARNING,
    CERT_EXPIRING: WARNING,
    UP: OK,
    MAINTENANCE_START: INFO,
    MAINTENANCE_END: INFO,
    TEST: INFO,
}


@dataclass(frozen=True)
class Message:
    event: str
    title: str  # one plain line, e.g. "Shop API is down" (contains user text)
    site_name: str = ""  # user text; the target when the monitor has no name
    target: str = ""  # user text: a URL, host:port or "heartbeat monitor 12"
    reason: str = ""  # user text: why it failed ("HTTP 503 Service Unavailable")
    happened_at: datetime | None = None
    down_since: datetime | None = None
    downtime: timedelta | None = None  # on recovery: how long it was down
    site_id: int | None = None
    status_code: int | None = None
    dependents: int = 0  # monitors depending on this one (muted while it is down)
    acknowledged_by: str = ""  # user text
    link: str = ""  # the monitor's page (UPTIME_BASE_URL)
    ack_link: str = ""  # a signed link that acknowledges the incident (login required)
    # One key per incident (the down transition): PagerDuty's dedup_key,
    # Opsgenie's alias; the recovery resolves what the down opened.
    dedup_key: str = ""
    details: tuple[str, ...] = field(default_factory=tuple)  # more plain lines (user text)

    @property
    def severity(self) -> str:
        return SEVERITY.get(self.event, INFO)

    def lines(self) -> list[str]:
        """The body as plain lines, without the title; transports escape each."""
        lines = []
        if self.reason:
            lines.append(f"Reason: {self.reason}")
        if self.event == UP and self.downtime is not None:
            since = f" (since {format_utc(self.down_since)})" if self.down_since else ""
            lines.append(f"It was down for {format_duration(self.downtime)}{since}.")
        elif self.down_since is not None and self.event in (REMINDER, ESCALATION):
            now = self.happened_at or datetime.now(UTC)
            lines.append(
                f"Down for {format_duration(now - self.down_since)} "
                f"(since {format_utc(self.down_since)}), not acknowledged."
            )
        if self.dependents:
            monitors = "monitor depends" if self.dependents == 1 else "monitors depend"
            lines.append(
                f"{self.dependents} {monitors} on it; their alerts are muted while it is down."
            )
        if self.acknowledged_by:
            lines.append(f"Acknowledged by {self.acknowledged_by}.")
        lines.extend(self.details)
        if self.happened_at is not None:
            lines.append(f"At {format_utc(self.happened_at)}")
        return lines

    @property
    def text(self) -> str:
        """Title, body and link as plain text (email's text part, ntfy, SMS-like kinds)."""
        parts = [self.title, *self.lines()]
        if self.link:
            parts.append(self.link)
        if self.ack_link:
            parts.append(f"Acknowledge: {self.ack_link}")
        return "\n".join(parts)


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(span: timedelta) -> str:
    """A short human duration: "42 s", "5 min 3 s", "2 h 5 min", "3 d 4 h"."""
    seconds = max(0, round(span.total_seconds()))
    units = [("d", 86_400), ("h", 3600), ("min", 60), ("s", 1)]
    parts = []
    for name, size in units:
        count, seconds = divmod(seconds, size)
        if count or (name == "s" and not parts):
            parts.append(f"{count} {name}")
    return " ".join(parts[:2])


def sample(event: str = DOWN, **overrides) -> Message:
    """A message with awkward user text, for tests and `test_channel`'s preview."""
    values = {
        "event": event,
        "title": 'Shop <API> & "*checkout*" _v2_ @here is down',
        "site_name": 'Shop <API> & "*checkout*" _v2_ @here',
        "target": "https://shop.example.com/health?a=1&b=<2>",
        "reason": "HTTP 503 Service Unavailable: <html> `backtick` [link](x) @channel",
        "happened_at": datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
        "site_id": 42,
        "status_code": 503,
        "link": "http://127.0.0.1:8000/site/42",
        "dedup_key": "uptime-42-incident-7",
    }
    values.update(overrides)
    return Message(**values)
