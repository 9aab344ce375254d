"""Mattermost: an incoming webhook, posted Markdown `text` (and, if set, a username and channel).

Wire format: https://developers.mattermost.com/integrate/webhooks/incoming/.
User text is backslash-escaped Markdown; an "@" gets a zero-width space after
it, since Mattermost finds mentions (@channel, @all, @someone) in the raw
text, where a backslash does not stop them.
"""

import re

from django.core.exceptions import ValidationError

from notifications.messages import Message

from . import base

LABEL = "Mattermost"
FIELDS = {
    "url": base.Field(
        "Webhook URL",
        type="url",
        required=True,
        secret=True,
        help="Integrations → Incoming Webhooks → Add (https://your-server/hooks/…).",
    ),
    "username": base.Field(
        "Post as",
        help="A display name for the messages; needs “Enable integrations to override "
        "usernames” in the System Console.",
    ),
    "channel": base.Field(
        "Channel",
        help="Post to this channel (its name, e.g. town-square) instead of the webhook's own.",
    ),
}
# Mattermost's own rate limit, when an admin turns it on, defaults to ten
# requests a second per address.
PACE = 0.1

# Mattermost's error ids ({"id": ..., "message": ...}) with what to do.
# https://github.com/mattermost/mattermost/blob/master/server/channels/app/webhook.go
HINTS = {
    "web.incoming_webhook.invalid": "the webhook was deleted or its URL is wrong",
    "web.incoming_webhook.disabled": "incoming webhooks are turned off on this server",
    "web.incoming_webhook.channel": "the channel does not exist or the webhook may not post there",
    "web.incoming_webhook.permissions": "the webhook may not post to that channel",
    "web.incoming_webhook.text": "Mattermost refused the message text",
}
# A disabled feature is answered 501; no retry turns it back on.
PERMANENT_5XX = (501,)

TEXT_LIMIT = 16_000  # Mattermost's default post size is 16,383 characters
NAME_LIMIT = 64
_INLINE = re.compile(r"([\\*_~`|<>\[\]()#:])")
_LINE_START = re.compile(r"^(\s*)([+-])", re.MULTILINE)
_NUMBERED = re.compile(r"^(\s*\d+)\.", re.MULTILINE)
_NAME = re.compile(r"^@?[a-z0-9._-]+$")


def clean(config: dict) -> dict:
    cleaned = {"url": base.require_url(config)}
    username = str(config.get("username") or "").strip()
    if len(username) > NAME_LIMIT or any(not ch.isprintable() for ch in username):
        raise ValidationError({"username": [f"Enter at most {NAME_LIMIT} printable characters."]})
    channel = str(config.get("channel") or "").strip()
    if channel and (len(channel) > NAME_LIMIT or not _NAME.match(channel)):
        raise ValidationError(
            {"channel": ["Enter a channel's name (lower-case letters, digits, . _ -)."]}
        )
    if username:
        cleaned["username"] = username
    if channel:
        cleaned["channel"] = channel
    return cleaned


def destination(config: dict) -> str:
    return config["url"]


def send(config: dict, message: Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    try:
        return base.post_json(
            config["url"],
            payload(message, config),
            service="Mattermost",
            timeout=timeout,
            hints=HINTS,
        )
    except base.TransportError as error:
        if error.status_code in PERMANENT_5XX:
            error.permanent = True
        raise


def payload(message: Message, config: dict | None = None) -> dict:
    lines = [f"**{escape(message.title)}**", *(escape(line) for line in message.lines())]
    links = []
    if message.link:
        links.append(f"[View monitor]({link_url(message.link)})")
    if message.ack_link:
        links.append(f"[Acknowledge]({link_url(message.ack_link)})")
    if links:
        lines.append(" · ".join(links))
    body = {"text": base.truncate("\n".join(lines), TEXT_LIMIT)}
    for name in ("username", "channel"):
        if (config or {}).get(name):
            body[name] = config[name]
    return body


def escape(text: str) -> str:
    """Markdown shown as typed, and mentions that notify no one."""
    text = _INLINE.sub(r"\\\1", text).replace("@", "@\u200b")
    return _NUMBERED.sub(r"\1\\.", _LINE_START.sub(r"\1\\\2", text))


def link_url(url: str) -> str:
    # A ")" or a space would end a [label](url) link early.
    return url.replace(" ", "%20").replace(")", "%29")
