"""The Slack transport: message text, escaping, the request and the error contract."""

import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from django.utils import timezone as dj_timezone
from werkzeug import Response

from notifications.slack import (
    TransportError,
    escape,
    format_duration,
    format_message,
    parse_retry_after,
    post_message,
)
from sites.models import Site
from tests.factories import alice_project
from tests.notifications.helpers import answer

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


# --- format_message -------------------------------------------------------------


def test_a_down_message_names_the_url_the_status_the_reason_and_the_time(site, make_transition):
    text = format_message(make_transition(site, at=AT))
    lines = text.splitlines()
    assert lines[0] == "*https://example.com is down!* (HTTP 503)"
    assert "Reason: HTTP 503 Service Unavailable" in lines
    assert "Detected at 2026-01-02 03:04:05 UTC" in lines


def test_a_named_site_is_shown_by_name_with_its_url(db, make_transition):
    shop = Site.objects.create(project=alice_project(), url="https://shop.example", name="Shop")
    text = format_message(make_transition(shop, at=AT))
    assert text.startswith("`Shop` (https://shop.example) is down! (HTTP 503)")


def test_times_are_shown_in_utc_whatever_the_zone_of_the_stored_time(site, make_transition):
    in_berlin = AT.astimezone(timezone(timedelta(hours=1)))
    text = format_message(make_transition(site, at=in_berlin))
    assert "Detected at 2026-01-02 03:04:05 UTC" in text


def test_a_down_message_without_a_status_code_has_no_http_part(site, make_transition):
    transition = make_transition(site, at=AT, status_code=None)
    assert format_message(transition).splitlines()[0] == "*https://example.com is down!*"


def test_a_recovery_message_says_how_long_the_site_was_down(site, make_transition):
    make_transition(site, at=AT)
    recovery = make_transition(site, to_status="up", at=AT + timedelta(minutes=5, seconds=3))
    lines = format_message(recovery).splitlines()
    assert lines[0] == "*https://example.com is back up.*"
    assert "It was down for 5 min 3 s (since 2026-01-02 03:04:05 UTC)." in lines
    assert "Recovered at 2026-01-02 03:09:08 UTC" in lines


def test_a_recovery_without_a_known_outage_start_leaves_the_duration_out(site, make_transition):
    recovery = make_transition(site, to_status="up", at=AT)
    assert "was down for" not in format_message(recovery)


def test_the_outage_start_is_the_latest_down_before_the_recovery(site, make_transition):
    make_transition(site, at=AT - timedelta(days=1))
    make_transition(site, at=AT)
    make_transition(site, at=AT + timedelta(hours=5))  # a later outage, not this one's
    recovery = make_transition(site, to_status="up", at=AT + timedelta(hours=2, minutes=1))
    assert "It was down for 2 h 1 min" in format_message(recovery)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0 s"), (42, "42 s"), (303, "5 min 3 s"), (7509, "2 h 5 min"), (273600, "3 d 4 h")],
)
def test_durations_read_as_the_two_largest_units(seconds, shown):
    assert format_duration(timedelta(seconds=seconds)) == shown


def test_user_controlled_text_cannot_inject_slack_markup(db, make_transition):
    site = Site.objects.create(
        project=alice_project(), url="https://example.com/?a=1&b=2", name="<!channel>"
    )
    transition = make_transition(site, at=AT)
    transition.check_result.error_message = "<https://evil|x> & <@U123>"
    transition.check_result.save()
    text = format_message(transition)
    assert "<" not in text and ">" not in text
    assert "`&lt;!channel&gt;`" in text
    assert "https://example.com/?a=1&amp;b=2" in text
    assert "Reason: &lt;https://evil|x&gt; &amp; &lt;@U123&gt;" in text


def test_escaping_replaces_the_ampersand_first_so_nothing_is_escaped_twice():
    assert escape("&lt; <&>") == "&amp;lt; &lt;&amp;&gt;"


# --- post_message ---------------------------------------------------------------


def test_it_posts_json_with_a_text_field_and_no_content_field(slack_server, settings):
    answer(slack_server)
    assert post_message(settings.SLACK_WEBHOOK_URL, "hello") == 200
    [(request, _)] = slack_server.log
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.get_data()) == {"text": "hello"}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, "invalid_payload"),
        (403, "action_prohibited"),
        (404, "no_service"),
        (410, "channel_is_archived"),
        (401, "whatever"),
    ],
)
def test_a_4xx_answer_is_a_permanent_error_with_slacks_reason(slack_server, settings, status, body):
    answer(slack_server, status=status, body=body)
    with pytest.raises(TransportError) as caught:
        post_message(settings.SLACK_WEBHOOK_URL, "hello")
    error = caught.value
    assert error.permanent is True
    assert error.status_code == status
    assert f"Slack answered HTTP {status}: {body}" in error.message


def test_a_deleted_webhook_error_says_what_to_do(slack_server, settings):
    answer(slack_server, status=404, body="no_service")
    with pytest.raises(TransportError, match="create a new one"):
        post_message(settings.SLACK_WEBHOOK_URL, "hello")


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_a_5xx_answer_is_a_transient_error(slack_server, settings, status):
    answer(slack_server, status=status, body="oops")
    with pytest.raises(TransportError) as caught:
        post_message(settings.SLACK_WEBHOOK_URL, "hello")
    assert caught.value.permanent is False
    assert caught.value.status_code == status


def test_a_429_is_transient_and_carries_retry_after_in_seconds(slack_server, settings):
    answer(slack_server, status=429, body="rate_limited", headers={"Retry-After": "30"})
    with pytest.raises(TransportError) as caught:
        post_message(settings.SLACK_WEBHOOK_URL, "hello")
    assert caught.value.permanent is False
    assert caught.value.retry_after == 30.0


def test_a_redirect_is_not_followed_and_is_permanent(slack_server, settings):
    slack_server.expect_request("/hook").respond_with_response(
        Response(status=302, headers={"Location": "/elsewhere"})
    )
    with pytest.raises(TransportError) as caught:
        post_message(settings.SLACK_WEBHOOK_URL, "hello")
    assert caught.value.permanent is True
    assert len(slack_server.log) == 1


def test_a_long_answer_is_cut_short_in_the_error(slack_server, settings):
    answer(slack_server, status=400, body="x" * 100_000)
    with pytest.raises(TransportError) as caught:
        post_message(settings.SLACK_WEBHOOK_URL, "hello")
    assert len(caught.value.message) < 300


def test_a_refused_connection_is_transient_and_the_url_stays_secret(refused_url):
    webhook = refused_url + "services/T000/B000/SECRETTOKEN"
    with pytest.raises(TransportError) as caught:
        post_message(webhook, "hello")
    assert caught.value.permanent is False
    assert "Connection refused" in caught.value.message
    assert "SECRETTOKEN" not in caught.value.message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_slow_answer_is_a_transient_timeout(slack_server, settings):
    def slow(request):
        time.sleep(1.5)
        return Response("ok")

    slack_server.expect_request("/hook").respond_with_handler(slow)
    with pytest.raises(TransportError) as caught:
        post_message(settings.SLACK_WEBHOOK_URL, "hello", timeout=0.3)
    assert caught.value.permanent is False
    assert "0.3s" in caught.value.message


def test_an_answer_dripping_a_byte_at_a_time_is_cut_at_the_total_deadline():
    """Each byte arrives well within the per-read timeout; only a deadline on
    the whole exchange stops it."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return  # the client hung up: what the test waits for
                time.sleep(0.1)

    threading.Thread(target=drip, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    started = time.monotonic()
    try:
        with pytest.raises(TransportError) as caught:
            post_message(url, "hello", timeout=1)
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 3
    assert caught.value.permanent is False
    assert "No complete answer within 1s" in caught.value.message


def test_a_webhook_on_a_private_address_is_refused_permanently_when_private_is_off(
    slack_server, settings
):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(TransportError) as caught:
        post_message(settings.SLACK_WEBHOOK_URL, "hello")
    assert caught.value.permanent is True
    assert "non-public address" in caught.value.message
    assert "loopback" not in caught.value.message
    assert slack_server.log == []


# --- parse_retry_after ----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("30", 30.0), (" 2.5 ", 2.5), ("-4", 0.0), ("", None), (None, None), ("soon", None)],
)
def test_retry_after_in_seconds_is_read_and_nonsense_is_ignored(header, seconds):
    assert parse_retry_after(header) == seconds


def test_retry_after_as_an_http_date_becomes_seconds_from_now():
    header = format_datetime(dj_timezone.now() + timedelta(seconds=90), usegmt=True)
    assert 85 <= parse_retry_after(header) <= 90


def test_an_absurd_retry_after_is_capped():
    assert parse_retry_after("99999999999") == 6 * 3600
