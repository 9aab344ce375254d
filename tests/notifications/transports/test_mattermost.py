"""Mattermost: the Markdown it receives, mentions neutralised, settings and answers."""

import re

import pytest
from django.core.exceptions import ValidationError

from notifications import messages
from notifications.transports import base, mattermost
from tests.notifications.transports import stand_ins
from tests.notifications.transports.stand_ins import answer, received

ZWSP = "\u200b"


@pytest.fixture
def server():
    with stand_ins.serve() as server:
        yield server


def send(server, message=None, **settings):
    config = {"url": stand_ins.url(server), **settings}
    return mattermost.send(config, message or messages.sample())


def shown(text: str) -> str:
    """What Mattermost shows: backslash escapes resolved, zero-width spaces invisible."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace(ZWSP, "")


def test_it_posts_markdown_text_with_the_title_lines_and_links(server):
    answer(server)
    send(server, messages.sample(title="Shop is down", ack_link="http://127.0.0.1:8000/ack/a"))
    [body] = received(server)
    assert set(body) == {"text"}
    lines = body["text"].splitlines()
    assert lines[0] == "**Shop is down**"
    assert shown(lines[-2]) == "At 2026-11-29 12:00:00 UTC"
    assert lines[-1] == (
        "[View monitor](http://127.0.0.1:8000/site/42) · [Acknowledge](http://127.0.0.1:8000/ack/a)"
    )


def test_username_and_channel_are_sent_when_set(server):
    answer(server)
    send(server, username="Uptime", channel="ops-alerts")
    [body] = received(server)
    assert body["username"] == "Uptime"
    assert body["channel"] == "ops-alerts"


def test_user_text_arrives_escaped_and_its_mentions_notify_no_one(server):
    answer(server)
    message = messages.sample()
    send(server, message)
    [body] = received(server)
    title, reason = body["text"].splitlines()[:2]
    assert title == f'**Shop \\<API\\> & "\\*checkout\\*" \\_v2\\_ @{ZWSP}here is down**'
    assert shown(title) == f"**{message.title}**"
    assert f"@{ZWSP}channel" in reason and "@channel" not in reason
    assert shown(reason) == f"Reason: {message.reason}"


@pytest.mark.parametrize(
    ("typed", "escaped"),
    [
        ("- item", "\\- item"),
        ("1. item", "1\\. item"),
        ("~town-square", "\\~town-square"),
        ("#tag :smile:", "\\#tag \\:smile\\:"),
        ("@all", f"@{ZWSP}all"),
    ],
)
def test_markdown_channel_links_hashtags_and_mentions_are_neutralised(typed, escaped):
    assert mattermost.escape(typed) == escaped
    assert shown(escaped) == typed


@pytest.mark.parametrize(
    ("status", "error_id", "hint"),
    [
        (400, "web.incoming_webhook.invalid.app_error", "deleted"),
        (404, "web.incoming_webhook.invalid.app_error", "deleted"),
        (403, "web.incoming_webhook.permissions.app_error", "may not post"),
        (400, "web.incoming_webhook.channel.app_error", "channel does not exist"),
        (501, "web.incoming_webhook.disabled.app_error", "turned off"),
    ],
)
def test_mattermosts_refusals_are_permanent_with_a_hint(server, status, error_id, hint):
    answer(server, status=status, body=f'{{"id": "{error_id}", "message": "x"}}')
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is True
    assert f"Mattermost answered HTTP {status}" in caught.value.message
    assert hint in caught.value.message


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_server_error_or_429_is_transient(server, status):
    answer(server, status=status, body="busy", headers={"Retry-After": "4"})
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is False
    assert caught.value.retry_after == 4.0


def test_a_refused_connection_is_transient_and_the_url_stays_secret():
    with pytest.raises(base.TransportError) as caught:
        mattermost.send({"url": stand_ins.refused_url()}, messages.sample())
    assert caught.value.permanent is False
    assert "SECRETTOKEN" not in caught.value.message


def test_the_guard_refuses_a_private_address_when_private_is_off(server, settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is True
    assert server.log == []


def test_clean_keeps_the_url_and_only_the_optional_settings_given():
    assert mattermost.clean({"url": "https://chat.example/hooks/x", "username": " "}) == {
        "url": "https://chat.example/hooks/x"
    }
    assert mattermost.clean(
        {"url": "https://chat.example/hooks/x", "username": "Uptime", "channel": "@alice"}
    ) == {"url": "https://chat.example/hooks/x", "username": "Uptime", "channel": "@alice"}


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "url"),
        ({"url": "https://chat.example/hooks/x", "channel": "Town Square"}, "channel"),
        ({"url": "https://chat.example/hooks/x", "username": "x" * 65}, "username"),
        ({"url": "https://chat.example/hooks/x", "username": "a\nb"}, "username"),
    ],
)
def test_clean_refuses_bad_settings_naming_the_field(config, field):
    with pytest.raises(ValidationError) as caught:
        mattermost.clean(config)
    assert list(caught.value.message_dict) == [field]
