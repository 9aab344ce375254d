"""Gotify: push the alert to a self-hosted Gotify server through its application token.

https://gotify.net/api-docs#/message/createMessage, extras:
https://gotify.net/docs/msgextras. Messages are plain text (the default
content type), so user text needs no escaping.
"""

import re

from django.core.exceptions import ValidationError

from notifications import messages
from notifications.transports import base

LABEL = "Gotify"
FIELDS = {
    "server": base.Field(
        "Server",
        type="url",
        required=True,
        help="Your Gotify server, e.g. https://push.example.org",
    ),
    "appToken": base.Field(
        "Application token", required=True, secret=True, help="An application's token (A…)."
    ),
}
PACE = 0.0

TOKEN = re.compile(r"[A-Za-z0-9._-]{1,128}")  # goes into a header: no spaces, no CR/LF
# Gotify's Android app: 0 is silent, 4-7 ring, 8-10 ring and pop up.
PRIORITY = {messages.CRITICAL: 8, messages.WARNING: 5, messages.OK: 5, messages.INFO: 2}
HINTS = {"you need to provide a valid access token": "check the application token"}


def clean(config: dict) -> dict:
    errors = {}
    try:
        server = base.require_url(config, "server").rstrip("/")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    token = str(config.get("appToken") or "").strip()
    if not TOKEN.fullmatch(token):
        errors["appToken"] = ["Enter the token of a Gotify application."]
    if errors:
        raise ValidationError(errors)
    return {"server": server, "appToken": token}


def destination(config: dict) -> str:
    return f"{config['server']}/message"


def send(config: dict, message: messages.Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    token = config["appToken"]
    return base.post_json(
        f"{config['server']}/message",
        push(message),
        service="Gotify",
        headers={"X-Gotify-Key": token},
        timeout=timeout,
        hints=HINTS,
        secrets=(token,),
    )


def push(message: messages.Message) -> dict:
    body = [*message.lines()]
    if message.link:
        body.append(message.link)
    if message.ack_link:
        body.append(f"Acknowledge: {message.ack_link}")
    extras: dict = {"client::display": {"contentType": "text/plain"}}
    if message.link:
        extras["client::notification"] = {"click": {"url": message.link}}
    return {
        "title": message.title,
        "message": "\n".join(body) or message.title,
        "priority": PRIORITY.get(message.severity, 5),
        "extras": extras,
    }
