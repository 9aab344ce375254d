"""Email: one message to the channel's addresses through Django's email framework.

A text part (the message as plain text) and an HTML part built with
format_html, which escapes user text. The HTML is built here rather than in a
template: mail clients need inline styles, which page templates may not have
(tests/security/test_headers.py). The SMTP server is the one EMAIL_URL names.

SMTP errors are classified by their reply codes (RFC 5321 §4.2.1): 5xx is
final, 4xx asks to try later. Django's backend raises only when every
recipient is refused; a partial refusal is delivered to the rest.
"""

import smtplib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from notifications import messages
from notifications.transports import base

LABEL = "Email"
FIELDS = {
    "to": base.Field("Recipients", type="emails", required=True, help="Up to 20 email addresses."),
}
PACE = 0.0

MAX_RECIPIENTS = 20
COLOURS = {
    messages.CRITICAL: "#c62828",
    messages.WARNING: "#ef6c00",
    messages.OK: "#2e7d32",
    messages.INFO: "#1565c0",
}


def clean(config: dict) -> dict:
    raw = config.get("to") or []
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    if not isinstance(raw, list | tuple):
        raise ValidationError({"to": ["Enter a list of email addresses."]})
    addresses = list(dict.fromkeys(str(address).strip() for address in raw if str(address).strip()))
    if not addresses:
        raise ValidationError({"to": ["Enter at least one email address."]})
    if len(addresses) > MAX_RECIPIENTS:
        raise ValidationError({"to": [f"Enter at most {MAX_RECIPIENTS} addresses."]})
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({"to": [f"{address!r} is not a valid email address."]}) from None
    return {"to": addresses}


def destination(config: dict) -> str:
    return ",".join(sorted(config["to"]))


def send(config: dict, message: messages.Message, *, timeout: float = base.TIMEOUT) -> base.Sent:
    email = compose(config["to"], message)
    try:
        with get_connection(fail_silently=False, timeout=timeout) as connection:
            connection.send_messages([email])
    except (smtplib.SMTPException, OSError) as exc:
        raise classify(exc) from None
    count = len(config["to"])
    return base.Sent(answer=f"The mail server accepted it for {count} recipient(s).")


def compose(recipients: list[str], message: messages.Message) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=" ".join(message.title.split()),  # a line break in a header is refused
        body=message.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        # RFC 3834: an automatic message; vacation responders leave it alone.
        headers={"Auto-Submitted": "auto-generated"},
    )
    email.attach_alternative(html_part(message), "text/html")
    return email


def html_part(message: messages.Message) -> SafeString:
    """The message as HTML; every value passes through format_html's escaping."""
    colour = COLOURS.get(message.severity, COLOURS[messages.INFO])
    title = format_html(
        '<h2 style="margin:0 0 12px;padding-left:10px;border-left:5px solid {};">{}</h2>',
        colour,
        message.title,
    )
    lines = format_html_join(
        "\n", '<p style="margin:0 0 6px;">{}</p>', ((line,) for line in message.lines())
    )
    shown = [(message.link, "Open the monitor"), (message.ack_link, "Acknowledge")]
    links = format_html_join(" \u00b7 ", '<a href="{}">{}</a>', [s for s in shown if s[0]])
    return format_html(
        '<!doctype html>\n<html><body style="font-family:Helvetica,Arial,sans-serif;'
        'color:#222;line-height:1.4;">\n{}\n{}\n<p style="margin:16px 0 0;">{}</p>\n'
        '<p style="margin:24px 0 0;color:#777;font-size:12px;">Sent by Uptime.</p>\n'
        "</body></html>",
        title,
        lines,
        links,
    )


def classify(exc: Exception) -> base.TransportError:
    """A TransportError from an SMTP failure: permanent only when retrying cannot help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = exc.recipients.values()
        shown = "; ".join(f"{code} {_text(reply)}" for code, reply in refusals)
        # A 4xx for any one address may still get through later; all 5xx is a bounce.
        final = all(code >= 500 for code, _ in refusals)
        return base.TransportError(
            f"The mail server refused every recipient: {base.one_line(shown)}",
            permanent=final,
            status_code=max(code for code, _ in refusals),
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return base.TransportError(
            f"The mail server refused Uptime's login (EMAIL_URL): {exc.smtp_code} "
            f"{_text(exc.smtp_error)}",
            permanent=True,
            status_code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        # The sender is the server's setting (UPTIME_FROM_EMAIL), not this
        # channel's: fixing it must not require re-enabling every channel.
        return base.TransportError(
            f"The mail server refused the sender {exc.sender}: {exc.smtp_code} "
            f"{_text(exc.smtp_error)}",
            permanent=False,
            status_code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPDataError):
        return base.TransportError(
            f"The mail server refused the message: {exc.smtp_code} {_text(exc.smtp_error)}",
            permanent=exc.smtp_code >= 500,
            status_code=exc.smtp_code,
        )
    if isinstance(exc, TimeoutError):
        return base.TransportError("The mail server did not answer in time", permanent=False)
    if isinstance(exc, ConnectionRefusedError):
        return base.TransportError("The mail server refused the connection", permanent=False)
    # Disconnected, a greeting refused, TLS or network trouble: the server's
    # state, not the channel's; try later.
    return base.TransportError(
        f"Could not send through the mail server: {base.one_line(str(exc)) or type(exc).__name__}",
        permanent=False,
    )


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else str(reply)
    return base.one_line(text)
