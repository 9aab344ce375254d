"""Gotify: POST /message with the application token, plain text, and its errors."""

import json

import pytest
from django.core.exceptions import ValidationError
from pytest_httpserver import HTTPServer

from notifications import messages
from notifications.transports import base, gotify

TOKEN = "AKd3xU9GgWmZ1Xo"


@pytest.fixture
def server():
    """A stand-in Gotify server on 127.0.0.1."""
    stand_in = HTTPServer(host="127.0.0.1", port=0)
    stand_in.start()
    yield stand_in
    stand_in.clear()
    stand_in.stop()


def config_for(server, path="") -> dict:
    return gotify.clean({"server": server.url_for(path), "appToken": TOKEN})


def accept(server, path="/message"):
    server.expect_request(path, method="POST").respond_with_json(
        {"id": 25, "appid": 5, "message": "…", "title": "…", "priority": 8}
    )


def pushed(server) -> dict:
    return json.loads(server.log[0][0].get_data())


def sent_error(config, message=None) -> base.TransportError:
    with pytest.raises(base.TransportError) as caught:
        gotify.send(config, message or messages.sample(), timeout=5)
    assert TOKEN not in caught.value.message
    return caught.value


def test_a_down_is_pushed_with_the_app_token_at_a_high_priority(server):
    accept(server)
    assert gotify.send(config_for(server), messages.sample(), timeout=5).status_code == 200
    (request, _), *_ = server.log
    assert request.headers["X-Gotify-Key"] == TOKEN
    sent = json.loads(request.get_data())
    assert sent["priority"] == 8
    assert sent["extras"]["client::display"] == {"contentType": "text/plain"}
    assert sent["extras"]["client::notification"] == {
        "click": {"url": "http://127.0.0.1:8000/site/42"}
    }


def test_user_text_arrives_as_typed_in_plain_text(server):
    accept(server)
    gotify.send(config_for(server), messages.sample(ack_link="http://127.0.0.1:8000/a"), timeout=5)
    sent = pushed(server)
    assert sent["title"] == 'Shop <API> & "*checkout*" _v2_ @here is down'
    lines = sent["message"].splitlines()
    assert lines[0] == "Reason: HTTP 503 Service Unavailable: <html> `backtick` [link](x) @channel"
    assert lines[-2:] == ["http://127.0.0.1:8000/site/42", "Acknowledge: http://127.0.0.1:8000/a"]


@pytest.mark.parametrize(
    ("event", "priority"),
    [(messages.DEGRADED, 5), (messages.UP, 5), (messages.MAINTENANCE_START, 2)],
)
def test_each_severity_has_its_priority(server, event, priority):
    accept(server)
    gotify.send(config_for(server), messages.sample(event), timeout=5)
    assert pushed(server)["priority"] == priority


def test_a_server_under_a_path_gets_the_message_there(server):
    accept(server, "/gotify/message")
    gotify.send(config_for(server, "/gotify/"), messages.sample(), timeout=5)
    assert len(server.log) == 1


def test_a_wrong_token_is_permanent_with_a_hint(server):
    server.expect_request("/message").respond_with_json(
        {
            "error": "Unauthorized",
            "errorCode": 401,
            "errorDescription": "you need to provide a valid access token or user credentials",
        },
        status=401,
    )
    error = sent_error(config_for(server))
    assert error.permanent
    assert error.message.endswith("(check the application token)")


def test_a_server_error_is_transient(server):
    server.expect_request("/message").respond_with_data("down", status=502)
    assert not sent_error(config_for(server)).permanent


def test_the_address_guard_refuses_a_private_server_when_private_targets_are_off(server, settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    error = sent_error(config_for(server))
    assert error.permanent
    assert "non-public address" in error.message
    assert server.log == []


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"server": "", "appToken": TOKEN}, "server"),
        ({"server": "gotify.example.org", "appToken": TOKEN}, "server"),
        ({"server": "https://gotify.example.org", "appToken": ""}, "appToken"),
        ({"server": "https://gotify.example.org", "appToken": "A\nX: 1"}, "appToken"),
    ],
)
def test_clean_names_the_field_that_is_wrong(config, field):
    with pytest.raises(ValidationError) as caught:
        gotify.clean(config)
    assert list(caught.value.message_dict) == [field]


def test_the_destination_is_the_servers_message_endpoint_without_the_token():
    config = gotify.clean({"server": "https://push.example.org/", "appToken": TOKEN})
    assert gotify.destination(config) == "https://push.example.org/message"
