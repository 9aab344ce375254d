"""Telegram: a bot posts the alert to a chat through the Bot API's sendMessage.

https://core.telegram.org/bots/api#sendmessage. The bot token is the
credential and sits in the URL's path, so it is redacted from every error.
"""

import json
import re
from html import escape

from django.conf import settings
from django.core.exceptions import ValidationError

from monitor import curl
from notifications import messages
from notifications.transports import base

LABEL = "Telegram"
FIELDS = {
    "botToken": base.Field(
        "Bot token", required=True, secret=True, help="From @BotFather: 123456789:AAH…"
    ),
    "chatId": base.Field(
        "Chat ID",
        required=True,
        help="A numeric chat ID (groups are negative) or a public channel's @username.",
    ),
}
# Telegram allows about one message a second to one chat (20 a minute in a
# group); beyond that it answers 429 with retry_after, which delivery honours.
# https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this
PACE = 1.0

# The token goes into the URL's path: nothing but its documented alphabet.
TOKEN = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{20,100}")
CHAT_ID = re.compile(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}")
MAX_LINE = 600  # sendMessage takes 4,096 characters; a long reason is cut, not the link
ICONS = {
    messages.CRITICAL: "\U0001f534",  # red circle
    messages.WARNING: "\U0001f7e0",  # orange circle
    messages.OK: "\u2705",  # check mark
    messages.INFO: "\u2139\ufe0f",  # information
}
# Telegram's own error descriptions with what a user should do about them.
HINTS = {
    "chat not found": "check the chat ID, and that the bot was added to the chat",
    "bot was blocked": "the user blocked the bot; unblock it in Telegram",
    "bot was kicked": "the bot was removed from the chat; add it again",
    "not enough rights": "the bot may not post in this chat; make it able to",
    "Unauthorized": "the bot token is wrong or was revoked; copy it again from @BotFather",
    "Not Found": "the bot token is wrong; copy it again from @BotFather",
}


def clean(config: dict) -> dict:
    token = str(config.get("botToken") or "").strip()
    chat_id = str(config.get("chatId") or "").strip()
    errors = {}
    if not TOKEN.fullmatch(token):
        errors["botToken"] = ["Enter the token @BotFather gave, like 123456789:AAH…"]
    if not CHAT_ID.fullmatch(chat_id):
        errors["chatId"] = ["Enter a numeric chat ID such as -1001234567890, or @channelname."]
    if errors:
        raise ValidationError(errors)
    return {"botToken": token, "chatId": chat_id}


def destination(config: dict) -> str:
    bot = config["botToken"].split(":", 1)[0]  # the bot's numeric ID, not the secret
    return f"telegram:{bot}:{config['chatId']}"


def format_html(message: messages.Message) -> str:
    """The message in Telegram's HTML: user text escaped, so none of it is markup.

    https://core.telegram.org/bots/api#html-style
    """
    icon = ICONS.get(message.severity, "")
    parts = [f"{icon} <b>{escape(_line(message.title))}</b>".strip()]
    parts += [escape(_line(line)) for line in message.lines()]
    if message.link:
        parts.append(f'<a href="{escape(message.link)}">Open the monitor</a>')
    if message.ack_link:
        parts.append(f'<a href="{escape(message.ack_link)}">Acknowledge</a>')
    return "\n".join(parts)


def send(config: dict, message: messages.Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    token = config["botToken"]
    url = f"{settings.UPTIME_TELEGRAM_API_URL.rstrip('/')}/bot{token}/sendMessage"
    payload = {
        "chat_id": config["chatId"],
        "text": format_html(message),
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }
    body = json.dumps(payload, ensure_ascii=False).encode()
    try:
        answer = curl.request(
            "POST", url, body=body, headers={"Content-Type": "application/json"}, timeout=timeout
        )
    except curl.RequestFailed as exc:
        raise base.TransportError(
            f"Could not reach Telegram: {base.redact(exc.message, url, token)}",
            permanent=exc.permanent,
        ) from None
    return check_answer(answer, secrets=(url, token))


def check_answer(answer: curl.Answer, *, secrets: tuple[str, ...]) -> base.Sent:
    """Sent, or a TransportError from Telegram's error object.

    Telegram answers {"ok": false, "error_code", "description", "parameters"}:
    a 429 says how long to wait in parameters.retry_after, and a group that
    became a supergroup names its new ID in parameters.migrate_to_chat_id.
    """
    reply = _json(answer)
    if 200 <= answer.status < 300:
        return base.Sent(status_code=answer.status, answer="ok")
    described = str(reply.get("description") or answer.text)
    shown = base.redact(base.one_line(described), *secrets)
    message = f"Telegram answered HTTP {answer.status}" + (f": {shown}" if shown else "")
    parameters = reply.get("parameters") if isinstance(reply.get("parameters"), dict) else {}
    migrated = parameters.get("migrate_to_chat_id")
    if isinstance(migrated, int) and not isinstance(migrated, bool):
        message += f" (the group is now a supergroup; set the chat ID to {migrated})"
    else:
        hint = next((hint for needle, hint in HINTS.items() if needle in shown), "")
        message += f" ({hint})" if hint else ""
    retry_after = parameters.get("retry_after")
    if isinstance(retry_after, int | float) and not isinstance(retry_after, bool):
        retry_after = min(max(float(retry_after), 0.0), base.MAX_RETRY_AFTER)
    else:
        retry_after = base.parse_retry_after(answer.headers.get("retry-after"))
    transient = answer.status in (408, 429) or answer.status >= 500
    raise base.TransportError(
        message, permanent=not transient, retry_after=retry_after, status_code=answer.status
    )


def _json(answer: curl.Answer) -> dict:
    try:
        reply = json.loads(answer.body)
    except ValueError:
        return {}
    return reply if isinstance(reply, dict) else {}


def _line(text: str) -> str:
    return base.truncate(text, MAX_LINE)
