"""Pushover: the Message API, form-encoded.

https://pushover.net/api. The message is plain text (no html=1), so user
text needs no escaping; Pushover makes its links clickable.
"""

import re
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError

from notifications import messages
from notifications.transports import base

LABEL = "Pushover"
FIELDS = {
    "token": base.Field(
        "API token", required=True, secret=True, help="The application's API token."
    ),
    "user": base.Field(
        "User key", required=True, secret=True, help="Your user key, or a delivery group's key."
    ),
}
PACE = 0.0

KEY = re.compile(r"[A-Za-z0-9]{30}")  # tokens and user keys are 30 letters and digits
# Pushover's limits (characters): https://pushover.net/api#limits
MAX_MESSAGE, MAX_TITLE, MAX_URL = 1024, 250, 512
HINTS = {
    "application token is invalid": "check the API token",
    "user key is invalid": "check the user key",
    "user identifier is not a valid": "check the user key",
}


def clean(config: dict) -> dict:
    cleaned, errors = {}, {}
    for name, label in (("token", "API token"), ("user", "user key")):
        cleaned[name] = str(config.get(name) or "").strip()
        if not KEY.fullmatch(cleaned[name]):
            errors[name] = [f"Enter the 30-character {label} Pushover shows."]
    if errors:
        raise ValidationError(errors)
    return cleaned


def destination(config: dict) -> str:
    return f"pushover:{config['user']}"


def send(config: dict, message: messages.Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    return base.post(
        settings.UPTIME_PUSHOVER_API_URL,
        urlencode(form(config, message)).encode(),
        service="Pushover",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=timeout,
        hints=HINTS,
        secrets=(config["token"], config["user"]),
    )


def form(config: dict, message: messages.Message) -> dict:
    body = [*message.lines()]
    if message.ack_link:
        body.append(f"Acknowledge: {message.ack_link}")
    fields = {
        "token": config["token"],
        "user": config["user"],
        "title": base.truncate(message.title, MAX_TITLE),
        "message": base.truncate("\n".join(body) or message.title, MAX_MESSAGE),
        "priority": 1 if message.severity == messages.CRITICAL else 0,
    }
    if message.link and len(message.link) <= MAX_URL:
        fields.update(url=message.link, url_title="Open the monitor")
    if message.happened_at:
        fields["timestamp"] = int(message.happened_at.timestamp())
    return fields
