"""Google Chat: the text it receives, look-alike escaping, and its answers classified."""

import pytest
from django.core.exceptions import ValidationError

from notifications import messages
from notifications.transports import base, googlechat
from tests.notifications.transports import stand_ins
from tests.notifications.transports.stand_ins import received

PATH = "/v1/spaces/AAAA/messages"
WEBHOOK_QUERY = "key=SECRETKEY&token=SECRETTOKEN"


@pytest.fixture
def server():
    with stand_ins.serve() as server:
        yield server


def webhook_url(server) -> str:
    return f"{server.url_for(PATH)}?{WEBHOOK_QUERY}"


def send(server, message=None, **kwargs):
    return googlechat.send({"url": webhook_url(server)}, message or messages.sample(), **kwargs)


def reply(server, status=200, body="{}", headers=None):
    server.expect_ordered_request(PATH, method="POST").respond_with_data(
        body, status=status, headers=headers or {}
    )


def test_it_posts_text_with_the_title_the_lines_and_the_links(server):
    reply(server)
    send(server, messages.sample(title="Shop is down", ack_link="http://127.0.0.1:8000/ack/a"))
    request = stand_ins.only_request(server)
    assert request.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert request.query_string.decode() == WEBHOOK_QUERY
    [body] = received(server)
    assert set(body) == {"text"}
    lines = body["text"].splitlines()
    assert lines[0] == "*Shop is down*"
    assert "At 2026-11-29 12:00:00 UTC" in lines
    assert lines[-1] == (
        "<http://127.0.0.1:8000/site/42|View monitor> · <http://127.0.0.1:8000/ack/a|Acknowledge>"
    )


def test_user_text_arrives_without_a_character_that_formats(server):
    reply(server)
    send(server)
    [body] = received(server)
    title, reason = body["text"].splitlines()[:2]
    assert title == '*Shop \u2039API> & "\u2217checkout\u2217" \u02cdv2\u02cd @here is down*'
    assert reason == (
        "Reason: HTTP 503 Service Unavailable: \u2039html> \u02cbbacktick\u02cb [link](x) @channel"
    )
    # Only Uptime's own markup is left: the bold title and the two links.
    user_part = "\n".join(body["text"].splitlines()[1:-1])
    assert not set("*_~`<") & set(user_part)


def test_a_mention_in_user_text_cannot_notify_the_space():
    assert googlechat.escape("<users/all>") == "\u2039users/all>"


@pytest.mark.parametrize(
    ("status", "google_status", "hint"),
    [
        (403, "PERMISSION_DENIED", "removed from the space"),
        (404, "NOT_FOUND", "no longer exists"),
        (401, "UNAUTHENTICATED", "copy the whole URL"),
        (400, "INVALID_ARGUMENT", "could not read"),
    ],
)
def test_a_4xx_answer_is_permanent_with_a_hint(server, status, google_status, hint):
    body = f'{{"error": {{"code": {status}, "message": "x", "status": "{google_status}"}}}}'
    reply(server, status=status, body=body)
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is True
    assert f"Google Chat answered HTTP {status}" in caught.value.message
    assert hint in caught.value.message


def test_a_429_is_transient(server):
    body = '{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}'
    reply(server, status=429, body=body, headers={"Retry-After": "3"})
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is False
    assert caught.value.retry_after == 3.0


def test_the_key_and_token_never_appear_in_an_error(server):
    reply(server, status=400, body=f"API key not valid: {WEBHOOK_QUERY}")
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert "SECRETKEY" not in caught.value.message
    assert "SECRETTOKEN" not in caught.value.message


def test_a_refused_connection_is_transient_and_the_url_stays_secret():
    url = stand_ins.refused_url() + "?" + WEBHOOK_QUERY
    with pytest.raises(base.TransportError) as caught:
        googlechat.send({"url": url}, messages.sample())
    assert caught.value.permanent is False
    assert "SECRET" not in caught.value.message


def test_the_guard_refuses_a_private_address_when_private_is_off(server, settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is True
    assert server.log == []


def test_clean_needs_an_http_url_naming_the_field():
    with pytest.raises(ValidationError) as caught:
        googlechat.clean({"url": "chat.googleapis.com/v1/spaces/x"})
    assert list(caught.value.message_dict) == ["url"]
    assert googlechat.FIELDS["url"].secret is True
