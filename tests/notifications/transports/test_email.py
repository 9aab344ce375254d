"""Email through Django's SMTP backend to a real aiosmtpd server on 127.0.0.1."""

import email as email_lib
import email.policy
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.core.exceptions import ValidationError
from django.test import override_settings

from notifications import messages
from notifications.transports import base
from notifications.transports import email as transport

OPS = "ops@example.invalid"
ONCALL = "oncall@example.invalid"


class MailServer:
    """Records what arrives; refuses a recipient with the reply set for it."""

    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.refusals: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refusals:
            return self.refusals[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append(list(envelope.rcpt_tos))
        self.received.append(
            email_lib.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def smtp_settings(port: int, **more):
    values = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": port,
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": False,
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "DEFAULT_FROM_EMAIL": "uptime@example.invalid",
    }
    return override_settings(**{**values, **more})


@pytest.fixture
def mail_server():
    handler = MailServer()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    with smtp_settings(controller.port):
        yield handler
    controller.stop()


def parts(received: email.message.EmailMessage) -> tuple[str, str]:
    text = received.get_body(preferencelist=("plain",)).get_content()
    html = received.get_body(preferencelist=("html",)).get_content()
    return text, html


def sent_error(config, message=None, timeout=5) -> base.TransportError:
    with pytest.raises(base.TransportError) as caught:
        transport.send(config, message or messages.sample(), timeout=timeout)
    return caught.value


CONFIG = {"to": [OPS, ONCALL]}


def test_one_message_with_a_text_and_an_html_part_reaches_every_recipient(mail_server):
    sent = transport.send(CONFIG, messages.sample(), timeout=5)
    assert "2 recipient" in sent.answer
    (received,) = mail_server.received
    assert mail_server.envelopes == [[OPS, ONCALL]]
    assert received["From"] == "uptime@example.invalid"
    assert received["Subject"] == 'Shop <API> & "*checkout*" _v2_ @here is down'
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_content_type() == "multipart/alternative"
    text, html = parts(received)
    assert text.splitlines() == messages.sample().text.splitlines()


def test_user_text_is_escaped_in_the_html_part(mail_server):
    transport.send(CONFIG, messages.sample(ack_link="http://127.0.0.1:8000/ack?a=1&b=2"), timeout=5)
    _, html = parts(mail_server.received[0])
    assert "Shop &lt;API&gt; &amp; &quot;*checkout*&quot; _v2_ @here is down" in html
    assert "&lt;html&gt; `backtick`" in html
    assert "<html> `backtick`" not in html
    assert "<API>" not in html
    assert '<a href="http://127.0.0.1:8000/site/42">Open the monitor</a>' in html
    assert '<a href="http://127.0.0.1:8000/ack?a=1&amp;b=2">Acknowledge</a>' in html


def test_a_recovery_is_green_and_says_how_long_it_was_down(mail_server):
    recovery = messages.sample(
        messages.UP, title="Shop is back up", reason="", downtime=timedelta(minutes=7)
    )
    transport.send({"to": [OPS]}, recovery, timeout=5)
    text, html = parts(mail_server.received[0])
    assert "It was down for 7 min" in text
    assert "#2e7d32" in html


def test_a_title_with_a_line_break_becomes_one_subject_line(mail_server):
    transport.send({"to": [OPS]}, messages.sample(title="Shop\r\nBcc: x@y.invalid down"), timeout=5)
    (received,) = mail_server.received
    assert received["Subject"] == "Shop Bcc: x@y.invalid down"
    assert received["Bcc"] is None


def test_every_recipient_bouncing_with_550_is_permanent(mail_server):
    mail_server.refusals = {OPS: "550 5.1.1 No such user", ONCALL: "550 5.1.1 No such user"}
    error = sent_error(CONFIG)
    assert error.permanent
    assert error.status_code == 550
    assert "550 5.1.1 No such user" in error.message
    assert mail_server.received == []


def test_a_451_for_a_recipient_is_transient(mail_server):
    mail_server.refusals = {OPS: "451 4.3.0 Try again later", ONCALL: "550 5.1.1 No such user"}
    error = sent_error(CONFIG)
    assert not error.permanent
    assert "451 4.3.0 Try again later" in error.message


def test_one_bouncing_recipient_does_not_stop_the_others(mail_server):
    mail_server.refusals = {ONCALL: "550 5.1.1 No such user"}
    transport.send(CONFIG, messages.sample(), timeout=5)
    assert mail_server.envelopes == [[OPS]]


def test_a_refused_connection_is_transient():
    with smtp_settings(free_port()):
        error = sent_error(CONFIG)
    assert not error.permanent
    assert error.message == "The mail server refused the connection"


def test_a_server_that_never_greets_is_a_transient_timeout():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with smtp_settings(silent.getsockname()[1]):
            error = sent_error(CONFIG, timeout=0.5)
    assert not error.permanent
    assert error.message.endswith("timed out")


def test_a_refused_login_is_permanent():
    def refuse(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False)

    controller = Controller(
        MailServer(),
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=refuse,
        auth_require_tls=False,
    )
    controller.start()
    try:
        with smtp_settings(
            controller.port, EMAIL_HOST_USER="uptime", EMAIL_HOST_PASSWORD="hunter2-secret"
        ):
            error = sent_error(CONFIG)
    finally:
        controller.stop()
    assert error.permanent
    assert error.status_code == 535
    assert "hunter2-secret" not in error.message


def test_clean_accepts_a_list_or_a_comma_separated_string_and_drops_repeats():
    assert transport.clean({"to": [f" {OPS} ", ONCALL, OPS]}) == {"to": [OPS, ONCALL]}
    assert transport.clean({"to": f"{OPS}, {ONCALL}"}) == {"to": [OPS, ONCALL]}


@pytest.mark.parametrize(
    "to",
    [
        [],
        "",
        ["not-an-address"],
        [OPS, "ops@@example.invalid"],
        [f"user{n}@example.invalid" for n in range(21)],
        {"a": 1},
    ],
)
def test_clean_names_the_to_field_when_it_is_wrong(to):
    with pytest.raises(ValidationError) as caught:
        transport.clean({"to": to})
    assert list(caught.value.message_dict) == ["to"]


def test_the_destination_is_the_sorted_recipients():
    assert transport.destination({"to": [OPS, ONCALL]}) == f"{ONCALL},{OPS}"
    assert transport.PACE == 0
