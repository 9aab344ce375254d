"""ntfy: publish to a topic on ntfy.sh or any self-hosted server.

Messages are published as JSON to the server's root, not with headers
(Title, Tags…): a monitor's name may hold any character, and a header can
carry neither a line break nor, without RFC 2047, anything beyond Latin-1.
https://docs.ntfy.sh/publish/#publish-as-json
"""

import re

from django.core.exceptions import ValidationError

from notifications import messages
from notifications.transports import base

LABEL = "ntfy"
FIELDS = {
    "server": base.Field(
        "Server",
        type="url",
        default="https://ntfy.sh",
        help="https://ntfy.sh or your own server's address.",
    ),
    "topic": base.Field("Topic", required=True, help="Letters, digits, - and _ (at most 64)."),
    "accessToken": base.Field(
        "Access token", secret=True, help="For a protected topic: a tk_… token."
    ),
}
# ntfy.sh lets a burst of 60 through, then one every 5 s; a self-hosted
# server sets its own. Its 429 is retried with backoff.
PACE = 0.0

DEFAULT_SERVER = "https://ntfy.sh"
TOPIC = re.compile(r"[-_A-Za-z0-9]{1,64}")  # ntfy's own topic rule
TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{1,200}")  # goes into a header: no spaces, no CR/LF
MAX_MESSAGE_BYTES = 4000  # the server's default message limit is 4,096 bytes
PRIORITY = {messages.CRITICAL: 5, messages.WARNING: 3, messages.OK: 3, messages.INFO: 3}
TAGS = {
    messages.CRITICAL: "rotating_light",
    messages.WARNING: "warning",
    messages.OK: "white_check_mark",
    messages.INFO: "information_source",
}
HINTS = {
    "unauthorized": "the topic is protected; check the access token",
    "forbidden": "the access token may not publish to this topic",
    "limit reached": "the server's rate or message limit was reached",
}


def clean(config: dict) -> dict:
    errors = {}
    server = str(config.get("server") or "").strip() or DEFAULT_SERVER
    try:
        server = base.require_url({"server": server}, "server").rstrip("/")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    topic = str(config.get("topic") or "").strip()
    if not TOPIC.fullmatch(topic):
        errors["topic"] = ["Enter a topic of letters, digits, - and _ (at most 64)."]
    token = str(config.get("accessToken") or "").strip()
    if token and not TOKEN.fullmatch(token):
        errors["accessToken"] = ["Enter the access token as ntfy shows it (tk_…)."]
    if errors:
        raise ValidationError(errors)
    return {"server": server, "topic": topic, "accessToken": token}


def destination(config: dict) -> str:
    return f"{config['server']}/{config['topic']}"


def send(config: dict, message: messages.Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    token = config.get("accessToken") or ""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return base.post_json(
        f"{config['server']}/",
        publication(config["topic"], message),
        service="ntfy",
        headers=headers,
        timeout=timeout,
        hints=HINTS,
        secrets=(token,),
    )


def publication(topic: str, message: messages.Message) -> dict:
    """ntfy's JSON message: plain text (no markdown), so user text needs no escaping."""
    body = "\n".join(message.lines()) or message.title
    published = {
        "topic": topic,
        "title": message.title,
        "message": _cut_bytes(body, MAX_MESSAGE_BYTES),
        "priority": PRIORITY.get(message.severity, 3),
        "tags": [TAGS.get(message.severity, "information_source")],
    }
    if message.link:
        published["click"] = message.link
    actions = [("Open the monitor", message.link), ("Acknowledge", message.ack_link)]
    if buttons := [{"action": "view", "label": label, "url": url} for label, url in actions if url]:
        published["actions"] = buttons
    return published


def _cut_bytes(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode(errors="ignore") + "\u2026"
