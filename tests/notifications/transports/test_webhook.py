"""The generic webhook: its documented body, custom headers, the signature and its check."""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from notifications import messages
from notifications.transports import base, webhook
from tests.notifications.transports import stand_ins
from tests.notifications.transports.stand_ins import answer, received

SECRET = "s3cret-signing-key"


@pytest.fixture
def server():
    with stand_ins.serve() as server:
        yield server


def send(server, message=None, **settings):
    config = webhook.clean({"url": stand_ins.url(server), **settings})
    return webhook.send(config, message or messages.sample())


# --- The body ------------------------------------------------------------------------


def test_it_posts_the_documented_body_with_user_text_verbatim(server):
    answer(server)
    message = messages.sample(ack_link="http://127.0.0.1:8000/ack/abc", acknowledged_by="")
    send(server, message)
    request = stand_ins.only_request(server)
    assert request.headers["Content-Type"] == "application/json"
    assert "X-Uptime-Signature" not in request.headers
    [body] = received(server)
    assert body == {
        "event": "down",
        "severity": "critical",
        "title": message.title,
        "text": message.text,
        "monitor": {
            "id": 42,
            "name": 'Shop <API> & "*checkout*" _v2_ @here',
            "target": "https://shop.example.com/health?a=1&b=<2>",
            "link": "http://127.0.0.1:8000/site/42",
        },
        "reason": "HTTP 503 Service Unavailable: <html> `backtick` [link](x) @channel",
        "statusCode": 503,
        "happenedAt": "2026-11-29T12:00:00Z",
        "downSince": None,
        "downtimeSeconds": None,
        "dedupKey": "uptime-42-incident-7",
        "ackLink": "http://127.0.0.1:8000/ack/abc",
        "acknowledgedBy": None,
    }


def test_a_recovery_carries_when_it_went_down_and_for_how_long():
    since = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
    body = webhook.payload(
        messages.sample(messages.UP, down_since=since, downtime=timedelta(hours=1, seconds=1))
    )
    assert body["event"] == "up" and body["severity"] == "ok"
    assert body["downSince"] == "2026-11-29T11:00:00Z"
    assert body["downtimeSeconds"] == 3601


def test_custom_headers_are_sent(server):
    answer(server)
    send(server, headers={"Authorization": "Bearer abc", "X-Team": "ops"})
    request = stand_ins.only_request(server)
    assert request.headers["Authorization"] == "Bearer abc"
    assert request.headers["X-Team"] == "ops"


# --- The signature -------------------------------------------------------------------


def test_a_receiver_recomputes_the_signature_from_the_raw_bytes_it_got(server):
    answer(server)
    before = int(time.time())
    send(server, secret=SECRET)
    request = stand_ins.only_request(server)
    raw = request.get_data()
    header = request.headers["X-Uptime-Signature"]
    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    assert before <= int(t) <= time.time()
    expected = hmac.new(SECRET.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    assert v1 == expected
    assert webhook.verify_signature(SECRET, header, raw)


def test_a_different_secret_body_or_timestamp_does_not_verify(server):
    answer(server)
    send(server, secret=SECRET)
    request = stand_ins.only_request(server)
    raw, header = request.get_data(), request.headers["X-Uptime-Signature"]
    t = int(header.split(",")[0][2:])
    assert not webhook.verify_signature("another-secret", header, raw)
    assert not webhook.verify_signature(SECRET, header, raw + b" ")
    # The same JSON, serialised again: a receiver must check the bytes it got.
    reserialised = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    assert json.loads(reserialised) == json.loads(raw)
    assert not webhook.verify_signature(SECRET, header, reserialised)
    moved = header.replace(f"t={t}", f"t={t + 1}")
    assert not webhook.verify_signature(SECRET, moved, raw)


def test_an_old_signature_is_refused_as_a_replay():
    body = b'{"event": "down"}'
    header = webhook.sign(SECRET, body, timestamp=1_000_000)
    assert webhook.verify_signature(SECRET, header, body, now=1_000_000 + 299)
    assert not webhook.verify_signature(SECRET, header, body, now=1_000_000 + 301)
    assert not webhook.verify_signature(SECRET, header, body, now=1_000_000 - 301)
    assert webhook.verify_signature(SECRET, header, body, now=1_000_000 + 3000, tolerance=3600)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "t=abc,v1=00", "v1=00", "t=1000000", "t=１０００000,v1=00"],
)
def test_a_malformed_signature_header_does_not_verify(header):
    assert not webhook.verify_signature(SECRET, header, b"{}", now=1_000_000)


def test_a_header_with_several_v1_values_verifies_if_one_matches():
    body = b"{}"
    good = webhook.sign(SECRET, body, timestamp=1_000_000)
    header = f"t=1000000,v1={'0' * 64},{good.split(',')[1]}"
    assert webhook.verify_signature(SECRET, header, body, now=1_000_000)


# --- Answers and failures --------------------------------------------------------------


def test_a_4xx_is_permanent_and_a_5xx_or_429_transient(server):
    answer(server, status=410, body="gone")
    answer(server, status=503, body="later")
    answer(server, status=429, body="slow", headers={"Retry-After": "9"})
    outcomes = []
    for _ in range(3):
        with pytest.raises(base.TransportError) as caught:
            send(server)
        outcomes.append((caught.value.status_code, caught.value.permanent))
    assert outcomes == [(410, True), (503, False), (429, False)]
    assert caught.value.retry_after == 9.0
    assert "Webhook answered HTTP 429: slow" in caught.value.message


def test_the_secret_and_header_values_never_appear_in_an_error(server):
    answer(server, status=400, body=f"bad signature {SECRET} for Bearer TOPSECRETTOKEN")
    with pytest.raises(base.TransportError) as caught:
        send(server, secret=SECRET, headers={"Authorization": "Bearer TOPSECRETTOKEN"})
    assert SECRET not in caught.value.message
    assert "TOPSECRETTOKEN" not in caught.value.message


def test_a_refused_connection_is_transient_and_the_url_stays_secret():
    with pytest.raises(base.TransportError) as caught:
        webhook.send({"url": stand_ins.refused_url()}, messages.sample())
    assert caught.value.permanent is False
    assert "SECRETTOKEN" not in caught.value.message


def test_the_guard_refuses_a_private_address_when_private_is_off(server, settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(base.TransportError) as caught:
        send(server)
    assert caught.value.permanent is True
    assert server.log == []


# --- Settings ----------------------------------------------------------------------------


def test_clean_keeps_url_secret_and_headers_and_marks_them_secret():
    config = webhook.clean(
        {"url": "https://hooks.example/x", "secret": " k ", "headers": {"X-A": " 1 "}}
    )
    assert config == {"url": "https://hooks.example/x", "secret": "k", "headers": {"X-A": "1"}}
    assert webhook.clean({"url": "https://hooks.example/x", "secret": "", "headers": {}}) == {
        "url": "https://hooks.example/x"
    }
    assert {name for name, field in webhook.FIELDS.items() if field.secret} == {
        "url",
        "secret",
        "headers",
    }
    assert webhook.PACE == 0


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "https://h.example", "secret": 12345}, "secret"),
        ({"url": "https://h.example", "headers": ["X-A: 1"]}, "headers"),
        ({"url": "https://h.example", "headers": {"X-A": "1\r\nX-Injected: 2"}}, "headers"),
        ({"url": "https://h.example", "headers": {"X-A": "1\n"}}, "headers"),
        ({"url": "https://h.example", "headers": {"X A": "1"}}, "headers"),
        ({"url": "https://h.example", "headers": {"X-A\r\nX-B": "1"}}, "headers"),
        ({"url": "https://h.example", "headers": {"X-A:": "1"}}, "headers"),
        ({"url": "https://h.example", "headers": {"X-A": 1}}, "headers"),
        ({"url": "https://h.example", "headers": {"Content-Type": "text/plain"}}, "headers"),
        ({"url": "https://h.example", "headers": {"x-uptime-signature": "t=1,v1=0"}}, "headers"),
    ],
)
def test_clean_refuses_bad_settings_naming_the_field(config, field):
    with pytest.raises(ValidationError) as caught:
        webhook.clean(config)
    assert list(caught.value.message_dict) == [field]
