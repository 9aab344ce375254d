"""Google Chat: a space's incoming webhook, posted `{"text": ...}`.

Wire format: https://developers.google.com/workspace/chat/quickstart/webhooks;
text formatting: https://developers.google.com/workspace/chat/format-messages.
Chat's text syntax has no escape character, so the characters that format
(`*` bold, `_` italic, `~` strike, a backtick for code, `<` for links and
`<users/all>` mentions) become look-alikes in user text.
"""

from notifications.messages import Message

from . import base

LABEL = "Google Chat"
FIELDS = {
    "url": base.Field(
        "Webhook URL",
        type="url",
        required=True,
        secret=True,
        help="Space → Apps & integrations → Webhooks; its key= and token= are the credential.",
    ),
}
# A space takes 60 messages a minute from all apps together.
# https://developers.google.com/workspace/chat/limits
PACE = 1.0

# Google's API error statuses ({"error": {"status": ...}}) with what to do.
# https://cloud.google.com/apis/design/errors#handling_errors
HINTS = {
    "PERMISSION_DENIED": "the webhook was removed from the space, or its app is not allowed",
    "NOT_FOUND": "the space or the webhook no longer exists; create a new webhook",
    "UNAUTHENTICATED": "the webhook URL's key or token is wrong; copy the whole URL again",
    "INVALID_ARGUMENT": "Google Chat could not read the message",
}

TEXT_LIMIT = 4096  # well under Chat's 32,000 bytes per message
LOOK_ALIKES = str.maketrans(
    {
        "*": "\u2217",  # asterisk operator
        "_": "\u02cd",  # modifier letter low macron
        "~": "\u223c",  # tilde operator
        "`": "\u02cb",  # modifier letter grave accent
        "<": "\u2039",  # single left-pointing angle quotation mark
    }
)


def clean(config: dict) -> dict:
    return {"url": base.require_url(config)}


def destination(config: dict) -> str:
    return config["url"]


def send(config: dict, message: Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    return base.post_json(
        config["url"],
        payload(message),
        service="Google Chat",
        timeout=timeout,
        hints=HINTS,
        headers={"Content-Type": "application/json; charset=UTF-8"},
    )


def payload(message: Message) -> dict:
    lines = [f"*{escape(message.title)}*", *(escape(line) for line in message.lines())]
    links = []
    if message.link:
        links.append(f"<{link_url(message.link)}|View monitor>")
    if message.ack_link:
        links.append(f"<{link_url(message.ack_link)}|Acknowledge>")
    if links:
        lines.append(" · ".join(links))
    return {"text": base.truncate("\n".join(lines), TEXT_LIMIT)}


def escape(text: str) -> str:
    """User text that cannot format: each formatting character becomes its look-alike."""
    return text.translate(LOOK_ALIKES)


def link_url(url: str) -> str:
    # Inside <url|label> a "|" would start the label and ">" end the link.
    return url.replace("|", "%7C").replace(">", "%3E")
