"""ntfy: JSON publishing to a server's root, its priorities and tags, and its errors."""

import json

import pytest
from django.core.exceptions import ValidationError
from pytest_httpserver import HTTPServer

from notifications import messages
from notifications.transports import base, ntfy

TOKEN = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"


@pytest.fixture
def server():
    """A stand-in ntfy server on 127.0.0.1."""
    stand_in = HTTPServer(host="127.0.0.1", port=0)
    stand_in.start()
    yield stand_in
    stand_in.clear()
    stand_in.stop()


def config_for(server, **settings) -> dict:
    return ntfy.clean({"server": server.url_for("/"), "topic": "uptime-alerts", **settings})


def accept(server, path="/"):
    server.expect_request(path, method="POST").respond_with_json(
        {"id": "sPs71M8A2T", "time": 1, "event": "message", "topic": "uptime-alerts"}
    )


def published(server) -> dict:
    (request, _), *_ = server.log
    return json.loads(request.get_data())


def sent_error(config, message=None) -> base.TransportError:
    with pytest.raises(base.TransportError) as caught:
        ntfy.send(config, message or messages.sample(), timeout=5)
    assert TOKEN not in caught.value.message
    return caught.value


def test_a_down_is_published_as_json_to_the_servers_root_at_priority_5(server):
    accept(server)
    assert ntfy.send(config_for(server), messages.sample(), timeout=5).status_code == 200
    (request, _), *_ = server.log
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers
    sent = json.loads(request.get_data())
    assert sent["topic"] == "uptime-alerts"
    assert sent["priority"] == 5
    assert sent["tags"] == ["rotating_light"]
    assert sent["click"] == "http://127.0.0.1:8000/site/42"


def test_user_text_arrives_as_typed_and_no_header_carries_it(server):
    accept(server)
    title = 'Zürich «Shop» <API> & "*x*" is down\r\nX-Injected: 1'
    ntfy.send(config_for(server), messages.sample(title=title), timeout=5)
    (request, _), *_ = server.log
    sent = json.loads(request.get_data())
    assert sent["title"] == title
    assert "X-Injected" not in request.headers
    assert "Title" not in request.headers
    assert sent["message"].splitlines()[0] == (
        "Reason: HTTP 503 Service Unavailable: <html> `backtick` [link](x) @channel"
    )
    assert "markdown" not in sent


def test_the_ack_link_is_a_view_action(server):
    accept(server)
    ntfy.send(
        config_for(server), messages.sample(ack_link="http://127.0.0.1:8000/ack/1"), timeout=5
    )
    assert published(server)["actions"] == [
        {"action": "view", "label": "Open the monitor", "url": "http://127.0.0.1:8000/site/42"},
        {"action": "view", "label": "Acknowledge", "url": "http://127.0.0.1:8000/ack/1"},
    ]


@pytest.mark.parametrize(
    ("event", "priority", "tag"),
    [
        (messages.DEGRADED, 3, "warning"),
        (messages.UP, 3, "white_check_mark"),
        (messages.REMINDER, 5, "rotating_light"),
    ],
)
def test_each_severity_has_its_priority_and_tag(server, event, priority, tag):
    accept(server)
    ntfy.send(config_for(server), messages.sample(event), timeout=5)
    assert (published(server)["priority"], published(server)["tags"]) == (priority, [tag])


def test_a_long_message_is_cut_below_the_servers_limit(server):
    accept(server)
    ntfy.send(config_for(server), messages.sample(reason="é" * 5000), timeout=5)
    assert len(published(server)["message"].encode()) <= 4000


def test_a_self_hosted_server_under_a_path_gets_the_json_at_that_path(server):
    accept(server, "/ntfy/")
    config = ntfy.clean({"server": server.url_for("/ntfy/"), "topic": "t"})
    ntfy.send(config, messages.sample(), timeout=5)
    assert published(server)["topic"] == "t"


def test_an_access_token_is_sent_as_bearer(server):
    accept(server)
    ntfy.send(config_for(server, accessToken=TOKEN), messages.sample(), timeout=5)
    assert server.log[0][0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_refused_token_is_permanent_with_a_hint(server):
    server.expect_request("/").respond_with_json(
        {"code": 40101, "http": 401, "error": "unauthorized", "link": "https://ntfy.sh/docs"},
        status=401,
    )
    error = sent_error(config_for(server, accessToken=TOKEN))
    assert error.permanent
    assert "check the access token" in error.message


def test_a_rate_limit_is_transient(server):
    server.expect_request("/").respond_with_json(
        {"code": 42901, "http": 429, "error": "limit reached: too many requests"}, status=429
    )
    error = sent_error(config_for(server))
    assert not error.permanent
    assert error.status_code == 429


def test_a_server_error_is_transient(server):
    server.expect_request("/").respond_with_data("oops", status=500)
    assert not sent_error(config_for(server)).permanent


def test_the_address_guard_refuses_a_private_server_when_private_targets_are_off(server, settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    error = sent_error(config_for(server))
    assert error.permanent
    assert "non-public address" in error.message
    assert server.log == []


def test_clean_defaults_to_ntfy_sh_and_drops_a_trailing_slash():
    assert ntfy.clean({"topic": "alerts"}) == {
        "server": "https://ntfy.sh",
        "topic": "alerts",
        "accessToken": "",
    }
    assert ntfy.clean({"server": "https://ntfy.example.org/", "topic": "a"})["server"] == (
        "https://ntfy.example.org"
    )


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"topic": ""}, "topic"),
        ({"topic": "a/b"}, "topic"),
        ({"topic": "t" * 65}, "topic"),
        ({"topic": "a", "server": "ftp://x.example"}, "server"),
        ({"topic": "a", "accessToken": "tk_x\r\nX-Evil: 1"}, "accessToken"),
    ],
)
def test_clean_names_the_field_that_is_wrong(config, field):
    with pytest.raises(ValidationError) as caught:
        ntfy.clean(config)
    assert list(caught.value.message_dict) == [field]


def test_the_destination_is_the_topics_address():
    assert ntfy.destination(ntfy.clean({"topic": "alerts"})) == "https://ntfy.sh/alerts"
