"""Opsgenie's Alert API: create on down with the incident's alias, close it on up, errors."""

import json

import pytest
from django.core.exceptions import ValidationError
from pytest_httpserver import HTTPServer

from notifications import messages
from notifications.transports import base, opsgenie

KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"
CONFIG = {"apiKey": KEY, "region": "eu"}
ACCEPTED = {"result": "Request will be processed", "took": 0.2, "requestId": "43a29c5c"}
CLOSE_PATH = "/v2/alerts/uptime-42-incident-7/close"


@pytest.fixture
def alert_api(settings):
    """A stand-in for api.opsgenie.com on 127.0.0.1."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    settings.UPTIME_OPSGENIE_API_URL = server.url_for("")
    yield server
    server.clear()
    server.stop()


def accept(server, path="/v2/alerts"):
    server.expect_request(path, method="POST").respond_with_json(ACCEPTED, status=202)


def sent_error(message=None) -> base.TransportError:
    with pytest.raises(base.TransportError) as caught:
        opsgenie.send(CONFIG, message or messages.sample(), timeout=5)
    assert KEY not in caught.value.message
    return caught.value


def test_a_down_creates_a_p1_alert_aliased_by_the_incident(alert_api):
    accept(alert_api)
    assert opsgenie.send(CONFIG, messages.sample(), timeout=5).status_code == 202
    (request, _), *_ = alert_api.log
    assert request.headers["Authorization"] == f"GenieKey {KEY}"
    created = json.loads(request.get_data())
    assert created["alias"] == "uptime-42-incident-7"
    assert created["priority"] == "P1"
    assert created["message"] == 'Shop <API> & "*checkout*" _v2_ @here is down'
    assert created["details"]["link"] == "http://127.0.0.1:8000/site/42"
    assert created["description"].splitlines()[0] == (
        "Reason: HTTP 503 Service Unavailable: <html> `backtick` [link](x) @channel"
    )
    assert "http://127.0.0.1:8000/site/42" in created["description"]


def test_a_degraded_monitor_is_a_p3_alert(alert_api):
    accept(alert_api)
    opsgenie.send(CONFIG, messages.sample(messages.DEGRADED), timeout=5)
    assert json.loads(alert_api.log[0][0].get_data())["priority"] == "P3"


def test_the_title_is_cut_to_opsgenies_130_characters(alert_api):
    accept(alert_api)
    opsgenie.send(CONFIG, messages.sample(title="y" * 300), timeout=5)
    assert len(json.loads(alert_api.log[0][0].get_data())["message"]) == 130


def test_the_recovery_closes_the_alert_by_its_alias(alert_api):
    accept(alert_api)
    accept(alert_api, CLOSE_PATH)
    opsgenie.send(CONFIG, messages.sample(), timeout=5)
    opsgenie.send(CONFIG, messages.sample(messages.UP, title="Shop is back up"), timeout=5)
    close, _ = alert_api.log[1]
    assert close.path == CLOSE_PATH
    assert close.args["identifierType"] == "alias"
    assert json.loads(close.get_data())["note"].startswith("Shop is back up")


def test_an_alias_with_a_slash_is_escaped_in_the_close_path(alert_api):
    # The stand-in decodes the path; the request line shows what was sent.
    alert_api.expect_request("/v2/alerts/a/b?c/close", method="POST").respond_with_json(
        ACCEPTED, status=202
    )
    opsgenie.send(CONFIG, messages.sample(messages.UP, dedup_key="a/b?c"), timeout=5)
    (request, _), *_ = alert_api.log
    assert request.environ["REQUEST_URI"] == "/v2/alerts/a%2Fb%3Fc/close?identifierType=alias"


def test_closing_an_alert_that_is_gone_is_not_an_error(alert_api):
    alert_api.expect_request(CLOSE_PATH, method="POST").respond_with_json(
        {"message": "Alert with alias [uptime-42-incident-7] does not exist", "took": 0.0},
        status=404,
    )
    sent = opsgenie.send(CONFIG, messages.sample(messages.UP), timeout=5)
    assert sent.status_code == 404


def test_without_the_override_the_region_chooses_the_host(settings):
    settings.UPTIME_OPSGENIE_API_URL = ""
    assert opsgenie.api_url({"apiKey": KEY, "region": "eu"}) == "https://api.eu.opsgenie.com"
    assert opsgenie.api_url({"apiKey": KEY, "region": "us"}) == "https://api.opsgenie.com"


def test_a_wrong_key_is_permanent_with_a_hint(alert_api):
    alert_api.expect_request("/v2/alerts").respond_with_json(
        {"message": "Key format is not valid!", "took": 0.001, "requestId": "x"}, status=422
    )
    error = sent_error()
    assert error.permanent
    assert error.message.endswith("(check the API key)")


def test_an_unknown_key_is_permanent(alert_api):
    alert_api.expect_request("/v2/alerts").respond_with_json(
        {"message": "Could not authenticate", "took": 0.0}, status=401
    )
    assert sent_error().permanent


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_transient(alert_api, status):
    alert_api.expect_request("/v2/alerts").respond_with_json(
        {"message": "Too many requests"}, status=status, headers={"Retry-After": "12"}
    )
    error = sent_error()
    assert not error.permanent
    assert error.retry_after == 12


def test_a_failed_close_other_than_404_is_still_an_error(alert_api):
    alert_api.expect_request(CLOSE_PATH).respond_with_data("busy", status=503)
    assert not sent_error(messages.sample(messages.UP)).permanent


def test_the_address_guard_refuses_a_private_address_when_private_targets_are_off(
    alert_api, settings
):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    error = sent_error()
    assert error.permanent
    assert "non-public address" in error.message
    assert alert_api.log == []


def test_clean_defaults_the_region_to_us():
    assert opsgenie.clean({"apiKey": f" {KEY} "}) == {"apiKey": KEY, "region": "us"}


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"apiKey": ""}, "apiKey"),
        ({"apiKey": "key\r\nX-Other: 1"}, "apiKey"),
        ({"apiKey": KEY, "region": "mars"}, "region"),
    ],
)
def test_clean_names_the_field_that_is_wrong(config, field):
    with pytest.raises(ValidationError) as caught:
        opsgenie.clean(config)
    assert list(caught.value.message_dict) == [field]
