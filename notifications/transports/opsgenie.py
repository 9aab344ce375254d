"""Opsgenie: the Alert API, one alert per outage.

A down creates an alert whose alias is the incident's dedup_key (Opsgenie
folds a reminder with the same alias into the open alert); the recovery
closes the alert by that alias.
https://docs.opsgenie.com/docs/alert-api#create-alert
https://docs.opsgenie.com/docs/alert-api#close-alert
"""

import re
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError

from notifications import messages
from notifications.transports import base

LABEL = "Opsgenie"
FIELDS = {
    "apiKey": base.Field(
        "API key", required=True, secret=True, help="The key of an API integration in Opsgenie."
    ),
    "region": base.Field(
        "Region",
        type="choice",
        choices=("us", "eu"),
        default="us",
        help="Where the Opsgenie account lives: api.opsgenie.com or api.eu.opsgenie.com.",
    ),
}
PACE = 0.0

API_HOSTS = {"us": "https://api.opsgenie.com", "eu": "https://api.eu.opsgenie.com"}
# Keys are UUIDs; the key goes into a header, so nothing outside this alphabet.
API_KEY = re.compile(r"[A-Za-z0-9-]{8,64}")
PRIORITY = {messages.CRITICAL: "P1", messages.WARNING: "P3", messages.OK: "P5", messages.INFO: "P5"}
CLOSES = (messages.UP, messages.MAINTENANCE_END)
# Opsgenie's field limits (characters).
MAX_MESSAGE, MAX_ALIAS, MAX_DESCRIPTION, MAX_DETAIL = 130, 512, 15000, 8000
HINTS = {
    "Key format is not valid": "check the API key",
    "Could not authenticate": "check the API key and the region",
}


def clean(config: dict) -> dict:
    key = str(config.get("apiKey") or "").strip()
    region = str(config.get("region") or "us").strip().lower()
    errors = {}
    if not API_KEY.fullmatch(key):
        errors["apiKey"] = ["Enter the API key of an Opsgenie API integration."]
    if region not in API_HOSTS:
        errors["region"] = ["Choose us or eu."]
    if errors:
        raise ValidationError(errors)
    return {"apiKey": key, "region": region}


def destination(config: dict) -> str:
    return f"opsgenie:{config.get('region', 'us')}:{config['apiKey']}"


def api_url(config: dict) -> str:
    """UPTIME_OPSGENIE_API_URL when set (a stand-in, a proxy); else the region's host."""
    return (settings.UPTIME_OPSGENIE_API_URL or API_HOSTS[config.get("region", "us")]).rstrip("/")


def send(config: dict, message: messages.Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    key = config["apiKey"]
    alerts = f"{api_url(config)}/v2/alerts"
    headers = {"Authorization": f"GenieKey {key}"}
    if message.event not in CLOSES:
        return base.post_json(
            alerts,
            alert(message),
            service="Opsgenie",
            headers=headers,
            timeout=timeout,
            hints=HINTS,
            secrets=(key,),
        )
    url = f"{alerts}/{quote(alias(message), safe='')}/close?identifierType=alias"
    note = {
        "source": "Uptime",
        "user": "Uptime",
        "note": base.truncate(message.text, MAX_DESCRIPTION),
    }
    try:
        return base.post_json(
            url,
            note,
            service="Opsgenie",
            headers=headers,
            timeout=timeout,
            hints=HINTS,
            secrets=(key,),
        )
    except base.TransportError as exc:
        if exc.status_code == 404:  # closed by hand already, or never opened: nothing to do
            return base.Sent(status_code=404, answer="No open alert with this alias")
        raise


def alert(message: messages.Message) -> dict:
    """A create-alert request; every value is plain text Opsgenie shows as such."""
    description = "\n".join(
        [*message.lines(), message.link, message.ack_link and f"Acknowledge: {message.ack_link}"]
    ).strip()
    values = {
        "monitor": message.site_name,
        "target": message.target,
        "reason": message.reason,
        "statusCode": message.status_code and str(message.status_code),
        "link": message.link,
        "acknowledge": message.ack_link,
    }
    return {
        "message": base.truncate(message.title, MAX_MESSAGE),
        "alias": alias(message),
        "description": base.truncate(description, MAX_DESCRIPTION),
        "priority": PRIORITY.get(message.severity, "P5"),
        "source": "Uptime",
        "entity": base.truncate(message.site_name or message.target, MAX_ALIAS),
        "tags": ["uptime", message.event],
        "details": {
            name: base.truncate(value, MAX_DETAIL) for name, value in values.items() if value
        },
    }


def alias(message: messages.Message) -> str:
    # Without the message's key, one per monitor, so a recovery still closes its down.
    key = message.dedup_key or f"uptime-site-{message.site_id}"
    if message.event in (messages.MAINTENANCE_START, messages.MAINTENANCE_END):
        key = f"uptime-site-{message.site_id}-maintenance"
    return key[:MAX_ALIAS]
