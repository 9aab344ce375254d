"""Microsoft Teams: the Adaptive Card it receives, TextBlock escaping, and its answers."""

import re

import pytest
from django.core.exceptions import ValidationError

from notifications import messages
from notifications.transports import base, teams
from tests.notifications.transports import stand_ins
from tests.notifications.transports.stand_ins import answer, received


@pytest.fixture
def server():
    with stand_ins.serve() as server:
        yield server


def send(server, message=None, **kwargs):
    return teams.send({"url": stand_ins.url(server)}, message or messages.sample(), **kwargs)


def unescape(text: str) -> str:
    """What a CommonMark renderer shows: a backslash before punctuation shows the punctuation."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def card_of(body: dict) -> dict:
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]


def test_it_posts_an_adaptive_card_with_the_title_the_lines_and_links(server):
    answer(server, status=202, body="")
    sent = send(server, messages.sample(ack_link="http://127.0.0.1:8000/ack/abc"))
    assert sent.status_code == 202
    card = card_of(received(server)[0])
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    title, *lines = card["body"]
    assert title["weight"] == "Bolder" and title["color"] == "Attention"
    assert all(block["type"] == "TextBlock" and block["wrap"] for block in card["body"])
    assert unescape(lines[-1]["text"]) == "At 2026-11-29 12:00:00 UTC"
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "View monitor", "url": "http://127.0.0.1:8000/site/42"},
        {"type": "Action.OpenUrl", "title": "Acknowledge", "url": "http://127.0.0.1:8000/ack/abc"},
    ]


def test_user_text_arrives_escaped_and_reads_as_typed(server):
    answer(server, status=202, body="")
    message = messages.sample()
    send(server, message)
    title, reason, *_ = card_of(received(server)[0])["body"]
    assert title["text"] == 'Shop \\<API\\> & "\\*checkout\\*" \\_v2\\_ @here is down'
    assert unescape(title["text"]) == message.title
    assert reason["text"] == (
        "Reason: HTTP 503 Service Unavailable: \\<html\\> \\`backtick\\` \\[link\\]\\(x\\) @channel"
    )
    assert unescape(reason["text"]) == f"Reason: {message.reason}"


@pytest.mark.parametrize(
    ("typed", "escaped"),
    [
        ("- item", "\\- item"),
        ("1. item", "1\\. item"),
        ("**bold**", "\\*\\*bold\\*\\*"),
        ("[x](http://evil.example)", "\\[x\\]\\(http://evil.example\\)"),
    ],
)
def test_textblock_markdown_is_escaped(typed, escaped):
    assert teams.escape(typed) == escaped
    assert unescape(escaped) == typed


def test_a_date_function_in_user_text_is_broken_up_so_it_is_shown_as_typed():
    escaped = teams.escape("{{DATE(2017-02-14T06:00:00Z, SHORT)}}")
    assert "{{" not in escaped
    assert unescape(escaped).replace("\u200b", "") == "{{DATE(2017-02-14T06:00:00Z, SHORT)}}"


@pytest.mark.parametrize(
    ("event", "colour"),
    [(messages.DOWN, "Attention"), (messages.DEGRADED, "Warning"), (messages.UP, "Good")],
)
def test_the_title_colour_follows_the_severity(event, colour):
    assert teams.card(messages.sample(event))["body"][0]["color"] == colour


def test_a_card_without_links_has_no_actions():
    assert "actions" not in teams.card(messages.sample(link=""))


@pytest.mark.parametrize(
    ("status", "code", "hint"),
    [
        (404, "WorkflowNotFound", "workflow was deleted"),
        (409, "WorkflowTriggerIsNotEnabled", "turn it on"),
        (401, "DirectApiAuthorizationRequired", "copy the whole URL"),
        (400, "InvalidRequestContent", None),
    ],
)
def test_a_4xx_answer_is_permanent_with_a_hint(server, status, code, hint):
    answer(server, status=status, body=f'{{"error": {{"code": "{code}", "message": "x"}}}}')
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is True
    assert f"Microsoft Teams answered HTTP {status}" in caught.value.message
    if hint:
        assert hint in caught.value.message


def test_a_429_is_transient_with_retry_after(server):
    answer(server, status=429, body="", headers={"Retry-After": "12"})
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is False
    assert caught.value.retry_after == 12.0


def test_a_502_is_transient(server):
    answer(server, status=502, body="bad gateway")
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is False


def test_the_urls_signature_never_appears_in_an_error(server):
    url = stand_ins.url(server, "/workflows/abc/triggers/manual/paths/invoke") + "?sig=SECRETSIG"
    server.expect_request("/workflows/abc/triggers/manual/paths/invoke").respond_with_data(
        "bad request for ?sig=SECRETSIG", status=400
    )
    with pytest.raises(base.TransportError) as caught:
        teams.send({"url": url}, messages.sample())
    assert "SECRETSIG" not in caught.value.message


def test_a_refused_connection_is_transient_and_the_url_stays_secret():
    with pytest.raises(base.TransportError) as caught:
        teams.send({"url": stand_ins.refused_url()}, messages.sample())
    assert caught.value.permanent is False
    assert "SECRETTOKEN" not in caught.value.message


def test_the_guard_refuses_a_private_address_when_private_is_off(server, settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is True
    assert server.log == []


def test_clean_needs_an_http_url_naming_the_field():
    with pytest.raises(ValidationError) as caught:
        teams.clean({})
    assert list(caught.value.message_dict) == ["url"]
    assert teams.FIELDS["url"].secret is True
