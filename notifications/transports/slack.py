"""Slack: an incoming webhook, posted `text` (the notification and fallback) and blocks.

Wire format: https://api.slack.com/messaging/webhooks and
https://api.slack.com/reference/block-kit/blocks. The wording follows what
notifications/slack.py has always sent: the monitor's name as a code span,
its target in brackets, "Detected at"/"Recovered at".
"""

from notifications import messages
from notifications.messages import Message

from . import base

LABEL = "Slack"
FIELDS = {
    "url": base.Field(
        "Webhook URL",
        type="url",
        required=True,
        secret=True,
        help="The incoming webhook URL Slack gave you (https://hooks.slack.com/services/…).",
    ),
}
# Slack allows about one message per second per webhook, short bursts aside.
# https://api.slack.com/apis/rate-limits#incoming-webhooks
PACE = 1.0

# Slack's documented webhook errors with what a user should do about them.
# https://api.slack.com/messaging/webhooks#handling_errors
HINTS = {
    "no_service": "the webhook was removed or disabled; create a new one",
    "channel_is_archived": "the webhook's channel is archived",
    "channel_not_found": "the webhook's channel no longer exists",
    "invalid_token": "the webhook's token is no longer valid; create a new webhook",
    "team_disabled": "the Slack workspace is disabled",
    "action_prohibited": "a Slack admin restricted posting to this channel",
}

HEADER_LIMIT = 150  # a header block's plain_text
SECTION_LIMIT = 3000  # a section block's text
WHEN = {
    messages.DOWN: "Detected at",
    messages.DEGRADED: "Detected at",
    messages.UP: "Recovered at",
}


def clean(config: dict) -> dict:
    return {"url": base.require_url(config)}


def destination(config: dict) -> str:
    return config["url"]


def send(config: dict, message: Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    return base.post_json(
        config["url"], payload(message), service="Slack", timeout=timeout, hints=HINTS
    )


def payload(message: Message) -> dict:
    return {"text": format_text(message), "blocks": blocks(message)}


def format_text(message: Message) -> str:
    """The mrkdwn text: headline, the lines, then the links."""
    lines = [headline(message), *body_lines(message)]
    if links := link_line(message):
        lines.append(links)
    return "\n".join(lines)


def blocks(message: Message) -> list[dict]:
    # A header block is plain_text: Slack shows it as typed, so it is not escaped.
    result = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": base.truncate(message.title, HEADER_LIMIT),
                "emoji": False,
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": base.truncate(
                    "\n".join([headline(message), *body_lines(message)]), SECTION_LIMIT
                ),
            },
        },
    ]
    # Links rather than buttons: a button in a webhook's message shows a
    # warning to whoever clicks it unless the Slack app answers interactions.
    if links := link_line(message):
        result.append({"type": "context", "elements": [{"type": "mrkdwn", "text": links}]})
    return result


def headline(message: Message) -> str:
    """The first line: `Shop` (https://shop.example) is down! (HTTP 503), or the title in bold."""
    name, rest = title_parts(message)
    if name:
        target = f" ({escape(message.target)})" if message.target else ""
        line = f"{quote(name)}{target} {escape(rest)}"
    else:
        line = f"*{escape(message.title)}*"
    if message.event == messages.DOWN and message.status_code is not None:
        line += f" (HTTP {message.status_code})"
    return line


def title_parts(message: Message) -> tuple[str, str]:
    """The title as (the monitor's name, the rest), or ("", title) when it names none."""
    name = message.site_name
    if name and name != message.target and message.title.startswith(name):
        return name, message.title[len(name) :].lstrip()
    return "", message.title


def body_lines(message: Message) -> list[str]:
    lines = message.lines()
    if message.happened_at is not None:
        at = messages.format_utc(message.happened_at)
        if lines and lines[-1] == f"At {at}":
            lines[-1] = f"{WHEN.get(message.event, 'At')} {at}"
    return [escape(line) for line in lines]


def link_line(message: Message) -> str:
    links = []
    if message.link:
        links.append(f"<{link_url(message.link)}|View monitor>")
    if message.ack_link:
        links.append(f"<{link_url(message.ack_link)}|Acknowledge>")
    return " · ".join(links)


def link_url(url: str) -> str:
    # Inside <url|label> a "|" would start the label and ">" end the link.
    return escape(url).replace("|", "%7C")


def escape(text: str) -> str:
    """Escape Slack's three control characters, so text can inject nothing.

    https://api.slack.com/reference/surfaces/formatting#escaping
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote(text: str) -> str:
    """User text as an inline code span, escaped: shown as typed, never as markup.

    Slack's mrkdwn has no escape for `*`, `_` or `~`; inside a code span they
    are plain characters. A backtick would end the span early, so it becomes
    the look-alike U+02CB (modifier letter grave accent); a line break would
    too, so it becomes a space.
    """
    flat = " ".join(text.replace("`", "\u02cb").splitlines())
    return "`" + escape(flat) + "`"
