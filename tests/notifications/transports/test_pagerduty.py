"""PagerDuty Events API v2: trigger on down, resolve on up with one dedup_key, errors."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from pytest_httpserver import HTTPServer

from notifications import messages
from notifications.transports import base, pagerduty

KEY = "R0123456789abcdefABCDEF012345678"
CONFIG = {"routingKey": KEY}
ACCEPTED = {"status": "success", "message": "Event processed", "dedup_key": "uptime-42-incident-7"}


@pytest.fixture
def events_api(settings):
    """A stand-in for events.pagerduty.com on 127.0.0.1."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    settings.UPTIME_PAGERDUTY_EVENTS_URL = server.url_for("/v2/enqueue")
    yield server
    server.clear()
    server.stop()


def accept(server, path="/v2/enqueue"):
    server.expect_request(path, method="POST").respond_with_json(ACCEPTED, status=202)


def received(server) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in server.log]


def sent_error(message=None) -> base.TransportError:
    with pytest.raises(base.TransportError) as caught:
        pagerduty.send(CONFIG, message or messages.sample(), timeout=5)
    assert KEY not in caught.value.message
    return caught.value


def test_a_down_triggers_an_alert_keyed_by_the_incident(events_api):
    accept(events_api)
    sent = pagerduty.send(CONFIG, messages.sample(), timeout=5)
    assert sent.status_code == 202
    (event,) = received(events_api)
    assert event["routing_key"] == KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "uptime-42-incident-7"
    payload = event["payload"]
    assert payload["severity"] == "critical"
    assert payload["source"] == "https://shop.example.com/health?a=1&b=<2>"
    assert payload["timestamp"] == "2026-11-29T12:00:00+00:00"
    assert payload["custom_details"]["status_code"] == 503
    assert event["links"] == [
        {"href": "http://127.0.0.1:8000/site/42", "text": "Open the monitor in Uptime"}
    ]
    assert event["client_url"] == "http://127.0.0.1:8000/site/42"


def test_user_text_arrives_exactly_as_typed_in_the_json(events_api):
    accept(events_api)
    pagerduty.send(CONFIG, messages.sample(), timeout=5)
    payload = received(events_api)[0]["payload"]
    assert payload["summary"] == (
        'Shop <API> & "*checkout*" _v2_ @here is down: '
        "HTTP 503 Service Unavailable: <html> `backtick` [link](x) @channel"
    )
    assert payload["custom_details"]["monitor"] == 'Shop <API> & "*checkout*" _v2_ @here'


def test_the_recovery_resolves_the_same_dedup_key(events_api):
    accept(events_api)
    accept(events_api)
    pagerduty.send(CONFIG, messages.sample(), timeout=5)
    recovery = messages.sample(messages.UP, reason="", downtime=timedelta(minutes=3))
    pagerduty.send(CONFIG, recovery, timeout=5)
    down, up = received(events_api)
    assert up == {"routing_key": KEY, "event_action": "resolve", "dedup_key": down["dedup_key"]}


@pytest.mark.parametrize(
    ("event", "severity"),
    [
        (messages.REMINDER, "critical"),
        (messages.ESCALATION, "critical"),
        (messages.DEGRADED, "warning"),
        (messages.CERT_EXPIRING, "warning"),
    ],
)
def test_reminders_escalations_and_warnings_trigger_with_their_severity(
    events_api, event, severity
):
    accept(events_api)
    pagerduty.send(CONFIG, messages.sample(event), timeout=5)
    (sent,) = received(events_api)
    assert sent["event_action"] == "trigger"
    assert sent["payload"]["severity"] == severity


def test_the_ack_link_is_one_of_the_links(events_api):
    accept(events_api)
    pagerduty.send(CONFIG, messages.sample(ack_link="http://127.0.0.1:8000/ack/x"), timeout=5)
    assert {"href": "http://127.0.0.1:8000/ack/x", "text": "Acknowledge"} in received(events_api)[
        0
    ]["links"]


def test_the_summary_is_cut_to_pagerdutys_1024_characters(events_api):
    accept(events_api)
    pagerduty.send(CONFIG, messages.sample(reason="x" * 5000), timeout=5)
    summary = received(events_api)[0]["payload"]["summary"]
    assert len(summary) == 1024
    assert summary.endswith("x\u2026")


def test_without_a_dedup_key_down_and_up_still_share_one_per_monitor(events_api):
    accept(events_api)
    accept(events_api)
    pagerduty.send(CONFIG, messages.sample(dedup_key=""), timeout=5)
    pagerduty.send(CONFIG, messages.sample(messages.UP, dedup_key=""), timeout=5)
    assert [event["dedup_key"] for event in received(events_api)] == ["uptime-site-42"] * 2


def test_maintenance_is_a_change_event_that_pages_nobody(events_api):
    accept(events_api, "/v2/change/enqueue")
    maintenance = messages.sample(messages.MAINTENANCE_START, title="Shop: maintenance starts")
    pagerduty.send(CONFIG, maintenance, timeout=5)
    (request, _), *_ = events_api.log
    assert request.path == "/v2/change/enqueue"
    change = json.loads(request.get_data())
    assert "event_action" not in change
    assert change["payload"]["summary"].startswith("Shop: maintenance starts")


def test_an_invalid_event_is_permanent_with_a_hint(events_api):
    events_api.expect_request("/v2/enqueue").respond_with_json(
        {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["Invalid routing key"],
        },
        status=400,
    )
    error = sent_error()
    assert error.permanent
    assert error.status_code == 400
    assert "check the integration key" in error.message


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_transient(events_api, status):
    events_api.expect_request("/v2/enqueue").respond_with_data(
        "slow down", status=status, headers={"Retry-After": "30"}
    )
    error = sent_error()
    assert not error.permanent
    assert error.retry_after == 30


def test_a_key_echoed_in_an_answer_is_redacted(events_api):
    events_api.expect_request("/v2/enqueue").respond_with_data(
        f"unknown routing key {KEY}", status=404
    )
    error = sent_error()
    assert error.permanent
    assert "[secret]" in error.message


def test_the_address_guard_refuses_a_private_address_when_private_targets_are_off(
    events_api, settings
):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    error = sent_error()
    assert error.permanent
    assert "non-public address" in error.message
    assert events_api.log == []


def test_clean_keeps_a_32_character_key():
    assert pagerduty.clean({"routingKey": f" {KEY}\n"}) == {"routingKey": KEY}


@pytest.mark.parametrize("key", ["", "short", KEY + "0", KEY[:-1] + "/"])
def test_clean_names_the_routing_key_when_it_is_wrong(key):
    with pytest.raises(ValidationError) as caught:
        pagerduty.clean({"routingKey": key})
    assert list(caught.value.message_dict) == ["routingKey"]
