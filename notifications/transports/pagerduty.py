"""PagerDuty: Events API v2, one incident per outage.

A down (and its reminders and escalations) triggers an alert keyed by the
message's dedup_key; the recovery resolves that same key, so PagerDuty opens
one incident and closes it. Maintenance windows are change events, which
PagerDuty shows on the service without paging anyone.
https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
https://developer.pagerduty.com/docs/events-api-v2/resolve-events/
https://developer.pagerduty.com/docs/events-api-v2/send-change-events/
"""

import re
from urllib.parse import urljoin

from django.conf import settings
from django.core.exceptions import ValidationError

from notifications import messages
from notifications.transports import base

LABEL = "PagerDuty"
FIELDS = {
    "routingKey": base.Field(
        "Integration key",
        required=True,
        secret=True,
        help="The 32-character key of the service's Events API v2 integration.",
    ),
}
# The Events API takes 120 events a minute per integration key.
# https://developer.pagerduty.com/docs/events-api-v2-overview#rate-limits
PACE = 0.5

ROUTING_KEY = re.compile(r"[A-Za-z0-9]{32}")
MAX_SUMMARY = 1024
SEVERITY = {
    messages.CRITICAL: "critical",
    messages.WARNING: "warning",
    messages.OK: "info",
    messages.INFO: "info",
}
CHANGE_EVENTS = (messages.MAINTENANCE_START, messages.MAINTENANCE_END)
HINTS = {"Invalid routing key": "check the integration key in PagerDuty's service settings"}


def clean(config: dict) -> dict:
    key = str(config.get("routingKey") or "").strip()
    if not ROUTING_KEY.fullmatch(key):
        raise ValidationError(
            {"routingKey": ["Enter the 32-character integration key (Events API v2)."]}
        )
    return {"routingKey": key}


def destination(config: dict) -> str:
    return f"pagerduty:{config['routingKey']}"


def send(config: dict, message: messages.Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    key = config["routingKey"]
    url = settings.UPTIME_PAGERDUTY_EVENTS_URL
    if message.event in CHANGE_EVENTS:
        url, payload = urljoin(url, "change/enqueue"), change_event(key, message)
    else:
        payload = event(key, message)
    return base.post_json(
        url, payload, service="PagerDuty", timeout=timeout, hints=HINTS, secrets=(key,)
    )


def event(routing_key: str, message: messages.Message) -> dict:
    """An alert event: "resolve" on recovery, else "trigger" with the details."""
    # Without the message's key, one per monitor: a recovery still finds its down.
    dedup_key = message.dedup_key or f"uptime-site-{message.site_id}"
    if message.event == messages.UP:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": summary(message),
            "source": message.target or message.site_name or "Uptime",
            "severity": SEVERITY.get(message.severity, "info"),
            **_timestamp(message),
            "component": message.site_name,
            "class": message.event,
            "custom_details": details(message),
        },
        "client": "Uptime",
        **({"client_url": message.link} if message.link else {}),
        "links": links(message),
    }


def change_event(routing_key: str, message: messages.Message) -> dict:
    return {
        "routing_key": routing_key,
        "payload": {
            "summary": summary(message),
            "source": message.target or message.site_name or "Uptime",
            **_timestamp(message),
            "custom_details": details(message),
        },
        "links": links(message),
    }


def summary(message: messages.Message) -> str:
    text = f"{message.title}: {message.reason}" if message.reason else message.title
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "\u2026"


def details(message: messages.Message) -> dict:
    """Plain values: PagerDuty shows custom_details as text, so nothing needs escaping."""
    values = {
        "monitor": message.site_name,
        "target": message.target,
        "reason": message.reason,
        "status_code": message.status_code,
        "down_since": message.down_since and messages.format_utc(message.down_since),
        "acknowledged_by": message.acknowledged_by,
        "details": "\n".join(message.lines()),
    }
    return {name: value for name, value in values.items() if value not in ("", None)}


def links(message: messages.Message) -> list[dict]:
    shown = [(message.link, "Open the monitor in Uptime"), (message.ack_link, "Acknowledge")]
    return [{"href": href, "text": text} for href, text in shown if href]


def _timestamp(message: messages.Message) -> dict:
    return {"timestamp": message.happened_at.isoformat()} if message.happened_at else {}
