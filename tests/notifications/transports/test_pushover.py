"""Pushover's Message API: the form it receives, plain text, and its error bodies."""

from urllib.parse import parse_qs

import pytest
from django.core.exceptions import ValidationError
from pytest_httpserver import HTTPServer

from notifications import messages
from notifications.transports import base, pushover

TOKEN = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
USER = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
CONFIG = {"token": TOKEN, "user": USER}
PATH = "/1/messages.json"


@pytest.fixture
def api(settings):
    """A stand-in for api.pushover.net on 127.0.0.1."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    settings.UPTIME_PUSHOVER_API_URL = server.url_for(PATH)
    yield server
    server.clear()
    server.stop()


def accept(server):
    server.expect_request(PATH, method="POST").respond_with_json({"status": 1, "request": "647d"})


def received(server) -> dict[str, str]:
    (request, _), *_ = server.log
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return {name: values[0] for name, values in parse_qs(request.get_data(as_text=True)).items()}


def refuse(server, status, *errors):
    server.expect_request(PATH).respond_with_json(
        {"user": "invalid", "errors": list(errors), "status": 0, "request": "5042"},
        status=status,
    )


def sent_error(message=None) -> base.TransportError:
    with pytest.raises(base.TransportError) as caught:
        pushover.send(CONFIG, message or messages.sample(), timeout=5)
    assert TOKEN not in caught.value.message
    assert USER not in caught.value.message
    return caught.value


def test_a_down_is_posted_as_a_form_at_high_priority(api):
    accept(api)
    assert pushover.send(CONFIG, messages.sample(), timeout=5).status_code == 200
    form = received(api)
    assert (form["token"], form["user"]) == (TOKEN, USER)
    assert form["priority"] == "1"
    assert form["url"] == "http://127.0.0.1:8000/site/42"
    assert form["url_title"] == "Open the monitor"
    assert form["timestamp"] == "1795953600"


def test_user_text_arrives_as_typed_and_is_not_read_as_html(api):
    accept(api)
    pushover.send(CONFIG, messages.sample(ack_link="http://127.0.0.1:8000/ack?a=1&b=2"), timeout=5)
    form = received(api)
    assert "html" not in form
    assert form["title"] == 'Shop <API> & "*checkout*" _v2_ @here is down'
    lines = form["message"].splitlines()
    assert lines[0] == "Reason: HTTP 503 Service Unavailable: <html> `backtick` [link](x) @channel"
    assert lines[-1] == "Acknowledge: http://127.0.0.1:8000/ack?a=1&b=2"


@pytest.mark.parametrize("event", [messages.UP, messages.DEGRADED, messages.MAINTENANCE_END])
def test_anything_but_a_critical_event_is_normal_priority(api, event):
    accept(api)
    pushover.send(CONFIG, messages.sample(event), timeout=5)
    assert received(api)["priority"] == "0"


def test_title_and_message_are_cut_to_pushovers_limits(api):
    accept(api)
    pushover.send(CONFIG, messages.sample(title="t" * 400, reason="r" * 3000), timeout=5)
    form = received(api)
    assert (len(form["title"]), len(form["message"])) == (250, 1024)


def test_an_invalid_token_is_permanent_with_a_hint(api):
    refuse(api, 400, "application token is invalid")
    error = sent_error()
    assert error.permanent
    assert error.message.endswith("(check the API token)")


def test_an_invalid_user_key_is_permanent_and_the_key_is_not_shown(api):
    refuse(api, 400, f"user key is invalid: {USER}")
    error = sent_error()
    assert error.permanent
    assert "[secret]" in error.message


def test_the_monthly_limit_429_is_transient(api):
    api.expect_request(PATH).respond_with_json(
        {"status": 0, "errors": ["application over quota"]}, status=429
    )
    error = sent_error()
    assert not error.permanent
    assert error.status_code == 429


def test_a_server_error_is_transient(api):
    api.expect_request(PATH).respond_with_data("", status=503)
    assert not sent_error().permanent


def test_the_address_guard_refuses_a_private_address_when_private_targets_are_off(api, settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    error = sent_error()
    assert error.permanent
    assert "non-public address" in error.message
    assert api.log == []


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"token": "", "user": USER}, "token"),
        ({"token": TOKEN, "user": USER[:-1]}, "user"),
        ({"token": TOKEN[:-1] + "&", "user": USER}, "token"),
    ],
)
def test_clean_names_the_field_that_is_wrong(config, field):
    with pytest.raises(ValidationError) as caught:
        pushover.clean(config)
    assert list(caught.value.message_dict) == [field]


def test_clean_strips_the_keys():
    assert pushover.clean({"token": f" {TOKEN}", "user": f"{USER}\n"}) == CONFIG
