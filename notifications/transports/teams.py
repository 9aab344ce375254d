"""Microsoft Teams: a Workflows webhook, posted an Adaptive Card.

The Workflows template is "Post to a channel when a webhook request is received".

Wire format: https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
(the Workflows app takes the same `{"type": "message", "attachments": [...]}`
envelope as the retired Office 365 connectors) and Adaptive Cards 1.4:
https://adaptivecards.io/explorer/. A TextBlock renders a CommonMark subset
(https://learn.microsoft.com/en-us/adaptive-cards/authoring-cards/text-features),
so user text is backslash-escaped.
"""

import re

from notifications import messages
from notifications.messages import Message

from . import base

LABEL = "Microsoft Teams"
FIELDS = {
    "url": base.Field(
        "Workflow URL",
        type="url",
        required=True,
        secret=True,
        help=(
            "In the channel: ⋯ → Workflows → “Post to a channel when a webhook request "
            "is received”; paste the whole URL it gives you (its sig= is the credential)."
        ),
    ),
}
# Teams takes about four webhook messages a second per channel; Power Automate
# answers 429 with Retry-After beyond its own limits.
PACE = 0.25

# Error codes Azure Logic Apps (the engine behind Workflows) answers in
# {"error": {"code": ...}}, with what a user should do about them.
HINTS = {
    "WorkflowTriggerIsNotEnabled": "the workflow is turned off; turn it on in Power Automate",
    "WorkflowNotFound": "the workflow was deleted; create a new one and paste its URL",
    "DirectApiAuthorizationRequired": "the URL lost its signature (sig=…); copy the whole URL",
    "DirectApiInvalidAuthorizationSignature": "the URL's signature is wrong; copy the whole URL",
}

COLOURS = {
    messages.CRITICAL: "Attention",
    messages.WARNING: "Warning",
    messages.OK: "Good",
    messages.INFO: "Accent",
}

# CommonMark gives these a meaning anywhere in a line; a backslash before
# any ASCII punctuation shows it as typed.
_INLINE = re.compile(r"([\\*_~`<>\[\]()])")
_LINE_START = re.compile(r"^(\s*)([#+-])", re.MULTILINE)
_NUMBERED = re.compile(r"^(\s*\d+)\.", re.MULTILINE)


def clean(config: dict) -> dict:
    return {"url": base.require_url(config)}


def destination(config: dict) -> str:
    return config["url"]


def send(config: dict, message: Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    return base.post_json(
        config["url"], payload(message), service="Microsoft Teams", timeout=timeout, hints=HINTS
    )


def payload(message: Message) -> dict:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card(message),
            }
        ],
    }


def card(message: Message) -> dict:
    body = [
        {
            "type": "TextBlock",
            "text": escape(message.title),
            "size": "Medium",
            "weight": "Bolder",
            "color": COLOURS[message.severity],
            "wrap": True,
        },
        *(
            {"type": "TextBlock", "text": escape(line), "wrap": True, "spacing": "Small"}
            for line in message.lines()
        ),
    ]
    actions = []
    if message.link:
        actions.append({"type": "Action.OpenUrl", "title": "View monitor", "url": message.link})
    if message.ack_link:
        actions.append({"type": "Action.OpenUrl", "title": "Acknowledge", "url": message.ack_link})
    content = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return content


def escape(text: str) -> str:
    """TextBlock markdown shown as typed.

    A "{{" would start a DATE()/TIME() function, which no backslash stops:
    a zero-width space between the braces does.
    """
    text = _INLINE.sub(r"\\\1", text.replace("{{", "{\u200b{"))
    return _NUMBERED.sub(r"\1\\.", _LINE_START.sub(r"\1\\\2", text))
