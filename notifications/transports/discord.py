"""Discord: a channel webhook, posted one embed that mentions no one.

Wire format: https://discord.com/developers/docs/resources/webhook#execute-webhook
(embed limits: https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
`allowed_mentions: {"parse": []}` keeps an "@everyone" in a monitor's name
from pinging anyone; the markdown escape keeps it from formatting the message.
"""

import json
import re

from notifications import messages
from notifications.messages import Message

from . import base

LABEL = "Discord"
FIELDS = {
    "url": base.Field(
        "Webhook URL",
        type="url",
        required=True,
        secret=True,
        help="Server settings → Integrations → Webhooks → Copy Webhook URL.",
    ),
}
# A webhook may post 5 messages per 2 seconds; a 429 says how long to wait
# beyond that (https://discord.com/developers/docs/topics/rate-limits).
PACE = 0.5

# Discord's JSON error codes for a webhook that is gone for good.
# https://discord.com/developers/docs/topics/opcodes-and-status-codes#json
HINTS = {
    "Unknown Webhook": "the webhook was deleted; create a new one",
    "Invalid Webhook Token": "the webhook URL's token is wrong; copy the URL again",
    "Unknown Channel": "the webhook's channel no longer exists",
}

COLOURS = {
    messages.CRITICAL: 0xE01E5A,  # red
    messages.WARNING: 0xECB22E,  # amber
    messages.OK: 0x2EB67D,  # green
    messages.INFO: 0x36C5F0,  # blue
}
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096

# Characters Discord's markdown gives a meaning anywhere in a line; a
# backslash before any punctuation shows it as typed.
_INLINE = re.compile(r"([\\*_~`|<>\[\]()@])")
# ...and at the start of a line: headings and lists (a quote's ">" is escaped above).
_LINE_START = re.compile(r"^(\s*)([#+-])", re.MULTILINE)
_NUMBERED = re.compile(r"^(\s*\d+)\.", re.MULTILINE)


def clean(config: dict) -> dict:
    return {"url": base.require_url(config)}


def destination(config: dict) -> str:
    return config["url"]


def send(config: dict, message: Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    url = config["url"]
    body = json.dumps(payload(message), ensure_ascii=False).encode()
    answer = base.exchange(
        url, body, service="Discord", headers={"Content-Type": "application/json"}, timeout=timeout
    )
    try:
        return base.check_answer(answer, service="Discord", hints=HINTS, secrets=(url,))
    except base.TransportError as error:
        if answer.status == 429:
            error.retry_after = _body_retry_after(answer.text) or error.retry_after
        raise


def payload(message: Message) -> dict:
    lines = [escape(line) for line in message.lines()]
    links = []
    if message.link:
        links.append(f"[View monitor]({link_url(message.link)})")
    if message.ack_link:
        links.append(f"[Acknowledge]({link_url(message.ack_link)})")
    if links:
        lines.append(" · ".join(links))
    embed = {
        "title": base.truncate(escape(message.title), TITLE_LIMIT),
        "description": base.truncate("\n".join(lines), DESCRIPTION_LIMIT),
        "color": COLOURS[message.severity],
    }
    if message.link:
        embed["url"] = message.link
    if message.happened_at is not None:
        embed["timestamp"] = message.happened_at.isoformat()
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


def escape(text: str) -> str:
    """Discord markdown shown as typed: a backslash before each meaningful character."""
    text = _INLINE.sub(r"\\\1", text)
    return _NUMBERED.sub(r"\1\\.", _LINE_START.sub(r"\1\\\2", text))


def link_url(url: str) -> str:
    # A ")" or a space would end a [label](url) link early.
    return url.replace(" ", "%20").replace(")", "%29")


def _body_retry_after(text: str) -> float | None:
    """The seconds in a 429's JSON body ({"retry_after": 1.5}), finer than the header's."""
    try:
        seconds = json.loads(text).get("retry_after")
    except (ValueError, AttributeError):
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    return base.parse_retry_after(str(seconds))
