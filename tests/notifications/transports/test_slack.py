"""Slack: the text and blocks it receives, escaping, and its answers classified."""

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.exceptions import ValidationError
from werkzeug import Response

from notifications import messages
from notifications.messages import Message
from notifications.transports import base, slack
from tests.notifications.transports import stand_ins
from tests.notifications.transports.stand_ins import SECRET_PATH, answer, received

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def server():
    with stand_ins.serve() as server:
        yield server


def send(server, message=None, **kwargs):
    message = message or messages.sample()
    return slack.send({"url": stand_ins.url(server)}, message, **kwargs)


def down(**fields) -> Message:
    values = {
        "event": messages.DOWN,
        "title": "https://example.com is down!",
        "site_name": "https://example.com",
        "target": "https://example.com",
        "reason": "HTTP 503 Service Unavailable",
        "status_code": 503,
        "happened_at": AT,
    }
    return Message(**{**values, **fields})


def text_lines(message: Message) -> list[str]:
    return slack.format_text(message).splitlines()


# --- The wording (as notifications/slack.py has always sent it) -------------------


def test_a_down_message_names_the_url_the_status_the_reason_and_the_time():
    lines = text_lines(down())
    assert lines[0] == "*https://example.com is down!* (HTTP 503)"
    assert "Reason: HTTP 503 Service Unavailable" in lines
    assert "Detected at 2026-01-02 03:04:05 UTC" in lines


def test_a_named_monitor_is_shown_by_name_in_a_code_span_with_its_url():
    message = down(title="Shop is down!", site_name="Shop", target="https://shop.example")
    assert text_lines(message)[0] == "`Shop` (https://shop.example) is down! (HTTP 503)"


def test_times_are_shown_in_utc_whatever_the_zone_of_the_moment():
    message = down(happened_at=AT.astimezone(timezone(timedelta(hours=1))))
    assert "Detected at 2026-01-02 03:04:05 UTC" in text_lines(message)


def test_a_down_message_without_a_status_code_has_no_http_part():
    assert text_lines(down(status_code=None))[0] == "*https://example.com is down!*"


def test_a_recovery_says_how_long_the_monitor_was_down():
    recovery = down(
        event=messages.UP,
        title="https://example.com is back up.",
        reason="",
        status_code=200,
        happened_at=AT + timedelta(minutes=5, seconds=3),
        down_since=AT,
        downtime=timedelta(minutes=5, seconds=3),
    )
    lines = text_lines(recovery)
    assert lines[0] == "*https://example.com is back up.*"
    assert "It was down for 5 min 3 s (since 2026-01-02 03:04:05 UTC)." in lines
    assert "Recovered at 2026-01-02 03:09:08 UTC" in lines


def test_a_recovery_without_a_known_outage_start_leaves_the_duration_out():
    recovery = down(event=messages.UP, title="https://example.com is back up.", reason="")
    assert "was down for" not in slack.format_text(recovery)


def test_user_text_cannot_inject_slack_markup():
    message = down(
        title="<!channel> is down!",
        site_name="<!channel>",
        target="https://example.com/?a=1&b=2",
        reason="<https://evil|x> & <@U123>",
    )
    text = slack.format_text(message)
    assert "<" not in text and ">" not in text
    assert "`&lt;!channel&gt;`" in text
    assert "https://example.com/?a=1&amp;b=2" in text
    assert "Reason: &lt;https://evil|x&gt; &amp; &lt;@U123&gt;" in text


def test_escaping_replaces_the_ampersand_first_so_nothing_is_escaped_twice():
    assert slack.escape("&lt; <&>") == "&amp;lt; &lt;&amp;&gt;"


def test_a_backtick_or_a_line_break_in_a_name_cannot_end_its_code_span():
    assert slack.quote("a`b\nc") == "`a\u02cbb c`"


# --- What the stand-in receives ----------------------------------------------------


def test_it_posts_json_with_text_and_header_section_and_context_blocks(server):
    answer(server)
    sent = send(server, messages.sample(ack_link="http://127.0.0.1:8000/ack/abc?s=1|2"))
    assert sent.status_code == 200
    request = stand_ins.only_request(server)
    assert request.headers["Content-Type"] == "application/json"
    [body] = received(server)
    assert set(body) == {"text", "blocks"}
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "context"]
    links = "<http://127.0.0.1:8000/site/42|View monitor> · <http://127.0.0.1:8000/ack/abc?s=1%7C2|Acknowledge>"
    assert body["text"].endswith("\n" + links)
    assert body["blocks"][2]["elements"] == [{"type": "mrkdwn", "text": links}]


def test_the_awkward_sample_arrives_escaped_in_text_and_section_and_verbatim_in_the_header(
    server,
):
    answer(server)
    message = messages.sample()
    send(server, message)
    [body] = received(server)
    header, section = body["blocks"][0]["text"], body["blocks"][1]["text"]
    # plain_text is shown as typed by Slack: no escaping, no emoji codes.
    assert header == {"type": "plain_text", "text": message.title, "emoji": False}
    assert section["type"] == "mrkdwn"
    for text in (body["text"], section["text"]):
        first = text.splitlines()[0]
        assert first == (
            '`Shop &lt;API&gt; &amp; "*checkout*" _v2_ @here` '
            "(https://shop.example.com/health?a=1&amp;b=&lt;2&gt;) is down (HTTP 503)"
        )
        assert (
            "Reason: HTTP 503 Service Unavailable: &lt;html&gt; `backtick` [link](x) @channel"
            in text
        )
        # No user text can open a Slack control sequence (<!here>, <@U1>, <url|x>).
        assert "<!" not in text and "<@" not in text and "<html" not in text


def test_a_message_without_links_has_no_context_block(server):
    answer(server)
    send(server, messages.sample(link=""))
    [body] = received(server)
    assert [block["type"] for block in body["blocks"]] == ["header", "section"]


def test_a_long_title_is_cut_to_the_header_blocks_limit(server):
    answer(server)
    send(server, messages.sample(title="x" * 400))
    [body] = received(server)
    assert len(body["blocks"][0]["text"]["text"]) == 150


# --- Answers and failures ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "hint"),
    [
        (400, "invalid_payload", None),
        (403, "action_prohibited", "a Slack admin restricted posting"),
        (404, "no_service", "create a new one"),
        (404, "channel_not_found", "no longer exists"),
        (403, "invalid_token", "no longer valid"),
        (410, "channel_is_archived", "archived"),
        (403, "team_disabled", "workspace is disabled"),
        (401, "whatever", None),
    ],
)
def test_a_4xx_answer_is_a_permanent_error_with_slacks_reason_and_a_hint(
    server, status, body, hint
):
    answer(server, status=status, body=body)
    with pytest.raises(base.TransportError) as caught:
        send(server)
    error = caught.value
    assert error.permanent is True
    assert error.status_code == status
    assert f"Slack answered HTTP {status}: {body}" in error.message
    if hint:
        assert hint in error.message


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_a_5xx_or_408_answer_is_transient(server, status):
    answer(server, status=status, body="oops")
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is False
    assert caught.value.status_code == status


def test_a_429_is_transient_and_carries_retry_after_in_seconds(server):
    answer(server, status=429, body="rate_limited", headers={"Retry-After": "30"})
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is False
    assert caught.value.retry_after == 30.0


def test_a_redirect_is_not_followed_and_is_permanent(server):
    server.expect_request(SECRET_PATH).respond_with_response(
        Response(status=302, headers={"Location": "/elsewhere"})
    )
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is True
    assert len(server.log) == 1


def test_a_long_answer_is_cut_short_in_the_error(server):
    answer(server, status=400, body="x" * 100_000)
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert len(caught.value.message) < 300


def test_an_answer_echoing_the_url_does_not_reveal_its_secret_path(server):
    answer(server, status=400, body=f"bad hook {SECRET_PATH}")
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert "SECRETTOKEN" not in caught.value.message


def test_a_refused_connection_is_transient_and_the_url_stays_secret():
    with pytest.raises(base.TransportError) as caught:
        slack.send({"url": stand_ins.refused_url()}, messages.sample())
    assert caught.value.permanent is False
    assert "Connection refused" in caught.value.message
    assert "SECRETTOKEN" not in caught.value.message


def test_a_slow_answer_is_a_transient_timeout(server):
    def slow(request):
        time.sleep(1.5)
        return Response("ok")

    server.expect_request(SECRET_PATH).respond_with_handler(slow)
    with pytest.raises(base.TransportError) as caught:
        send(server, timeout=0.3)
    assert caught.value.permanent is False
    assert "0.3s" in caught.value.message


def test_a_webhook_on_a_private_address_is_refused_permanently_when_private_is_off(
    server, settings
):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is True
    assert "non-public address" in caught.value.message
    assert server.log == []


# --- Settings ------------------------------------------------------------------------


def test_clean_keeps_an_http_url_and_the_url_is_a_secret_destination():
    config = slack.clean({"url": " https://hooks.slack.com/services/T/B/X "})
    assert config == {"url": "https://hooks.slack.com/services/T/B/X"}
    assert slack.destination(config) == config["url"]
    assert slack.FIELDS["url"].secret is True
    assert slack.PACE == 1.0


@pytest.mark.parametrize("url", ["", "ftp://example.com/hook", "hooks.slack.com/services/x"])
def test_clean_refuses_a_missing_or_non_http_url_naming_the_field(url):
    with pytest.raises(ValidationError) as caught:
        slack.clean({"url": url})
    assert list(caught.value.message_dict) == ["url"]
