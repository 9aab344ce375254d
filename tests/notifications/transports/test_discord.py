"""Discord: the embed it receives, escaping and mentions, and its answers classified."""

import json
import re

import pytest
from django.core.exceptions import ValidationError

from notifications import messages
from notifications.transports import base, discord
from tests.notifications.transports import stand_ins
from tests.notifications.transports.stand_ins import answer, received


@pytest.fixture
def server():
    with stand_ins.serve() as server:
        yield server


def send(server, message=None, **kwargs):
    return discord.send({"url": stand_ins.url(server)}, message or messages.sample(), **kwargs)


def unescape(text: str) -> str:
    """What Discord shows: a backslash before punctuation shows the punctuation."""
    return re.sub(r"\\([^0-9A-Za-z\s])", r"\1", text)


def test_it_posts_one_embed_with_title_description_colour_link_and_time(server):
    answer(server, status=204, body="")
    message = messages.sample(ack_link="http://127.0.0.1:8000/ack/a(b)")
    sent = send(server, message)
    assert sent.status_code == 204
    assert stand_ins.only_request(server).headers["Content-Type"] == "application/json"
    [body] = received(server)
    [embed] = body["embeds"]
    assert embed["color"] == 0xE01E5A
    assert embed["url"] == "http://127.0.0.1:8000/site/42"
    assert embed["timestamp"] == "2026-11-29T12:00:00+00:00"
    assert embed["description"].endswith(
        "[View monitor](http://127.0.0.1:8000/site/42) · "
        "[Acknowledge](http://127.0.0.1:8000/ack/a(b%29)"
    )
    assert "At 2026-11-29 12:00:00 UTC" in unescape(embed["description"])


def test_it_mentions_no_one_whatever_the_text_says(server):
    answer(server, status=204, body="")
    send(server)
    [body] = received(server)
    assert body["allowed_mentions"] == {"parse": []}


def test_user_text_arrives_escaped_and_reads_as_typed(server):
    answer(server, status=204, body="")
    message = messages.sample()
    send(server, message)
    [embed] = received(server)[0]["embeds"]
    assert embed["title"] == ('Shop \\<API\\> & "\\*checkout\\*" \\_v2\\_ \\@here is down')
    assert unescape(embed["title"]) == message.title
    reason = embed["description"].splitlines()[0]
    assert reason == (
        "Reason: HTTP 503 Service Unavailable: \\<html\\> \\`backtick\\` "
        "\\[link\\]\\(x\\) \\@channel"
    )
    assert unescape(reason) == f"Reason: {message.reason}"


@pytest.mark.parametrize(
    ("typed", "escaped"),
    [
        ("# heading", "\\# heading"),
        ("- item", "\\- item"),
        ("1. item", "1\\. item"),
        ("> quote", "\\> quote"),
        ("||spoiler||", "\\|\\|spoiler\\|\\|"),
        ("~~gone~~", "\\~\\~gone\\~\\~"),
        ("a\\*b", "a\\\\\\*b"),
        ("<@123> <#456> <@&789>", "\\<\\@123\\> \\<#456\\> \\<\\@&789\\>"),
    ],
)
def test_markdown_that_only_means_something_somewhere_is_escaped_too(typed, escaped):
    assert discord.escape(typed) == escaped
    assert unescape(escaped) == typed


@pytest.mark.parametrize(
    ("event", "colour"),
    [
        (messages.DOWN, 0xE01E5A),
        (messages.DEGRADED, 0xECB22E),
        (messages.CERT_EXPIRING, 0xECB22E),
        (messages.UP, 0x2EB67D),
        (messages.TEST, 0x36C5F0),
    ],
)
def test_the_colour_follows_the_severity(event, colour):
    assert discord.payload(messages.sample(event))["embeds"][0]["color"] == colour


def test_long_text_is_cut_to_discords_embed_limits():
    embed = discord.payload(messages.sample(title="t" * 300, reason="r" * 5000))["embeds"][0]
    assert len(embed["title"]) == 256
    assert len(embed["description"]) == 4096


def test_a_429_waits_for_the_bodys_retry_after_rather_than_the_rounded_header(server):
    body = json.dumps(
        {"message": "You are being rate limited.", "retry_after": 1.75, "global": False}
    )
    answer(server, status=429, body=body, headers={"Retry-After": "2"})
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is False
    assert caught.value.retry_after == 1.75


def test_a_429_without_a_json_body_uses_the_header(server):
    answer(server, status=429, body="<html>slow down</html>", headers={"Retry-After": "7"})
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "body", "hint"),
    [
        (404, '{"message": "Unknown Webhook", "code": 10015}', "webhook was deleted"),
        (401, '{"message": "Invalid Webhook Token", "code": 50027}', "copy the URL again"),
        (400, '{"embeds": ["0"]}', None),
    ],
)
def test_a_4xx_answer_is_permanent_with_discords_reason(server, status, body, hint):
    answer(server, status=status, body=body)
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is True
    assert caught.value.status_code == status
    assert f"Discord answered HTTP {status}" in caught.value.message
    if hint:
        assert hint in caught.value.message


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_answer_is_transient(server, status):
    answer(server, status=status, body="oops")
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is False


def test_a_refused_connection_is_transient_and_the_url_stays_secret():
    with pytest.raises(base.TransportError) as caught:
        discord.send({"url": stand_ins.refused_url()}, messages.sample())
    assert caught.value.permanent is False
    assert "SECRETTOKEN" not in caught.value.message


def test_an_answer_echoing_the_url_does_not_reveal_its_secret_path(server):
    answer(server, status=400, body=f'{{"message": "bad {stand_ins.url(server)}"}}')
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert "SECRETTOKEN" not in caught.value.message


def test_the_guard_refuses_a_private_address_when_private_is_off(server, settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is True
    assert server.log == []


def test_clean_needs_an_http_url_naming_the_field_and_keeps_it_secret():
    assert discord.clean({"url": "https://discord.com/api/webhooks/1/x"}) == {
        "url": "https://discord.com/api/webhooks/1/x"
    }
    with pytest.raises(ValidationError) as caught:
        discord.clean({"url": "discord.com/api/webhooks/1/x"})
    assert list(caught.value.message_dict) == ["url"]
    assert discord.FIELDS["url"].secret is True
