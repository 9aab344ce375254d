"""Finding 4: a refused private address is not named to the user, only logged.

Names under .localhost resolve to loopback without a DNS query (RFC 6761),
so these tests ask no DNS server and connect nowhere.
"""

import logging

import pytest
from django.urls import reverse

from monitor import curl
from monitor.probe import ErrorKind, Target, probe
from notifications import messages
from notifications.transports import slack
from notifications.transports.base import TransportError

HIDDEN = ("127.0.0.1", "loopback", "::1")


@pytest.fixture
def guard_on(settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False


def assert_tells_nothing(text: str) -> None:
    assert "resolves to a non-public address" in text
    for detail in HIDDEN:
        assert detail not in text


def test_a_ping_of_an_internal_name_does_not_say_what_it_resolves_to(api_client, guard_on, caplog):
    with caplog.at_level(logging.INFO, logger="monitor.net"):
        response = api_client.get("/api/ping/http://vm.localhost/")
    assert response.status_code == 400
    assert_tells_nothing(response.content.decode())
    assert "vm.localhost" in caplog.text and "127.0.0.1" in caplog.text
    assert "loopback" in caplog.text


def test_adding_an_internal_name_in_the_dashboard_does_not_say_what_it_resolves_to(
    client, user, guard_on
):
    client.force_login(user)
    response = client.post(
        reverse("site_add"), {"url": "http://vm.localhost/", "interval": "60", "timeout": "10"}
    )
    assert_tells_nothing(response.content.decode())


def test_the_connect_time_guard_does_not_say_what_the_name_resolved_to(guard_on, caplog):
    with caplog.at_level(logging.INFO, logger="monitor.net"):
        result = probe(Target(url="http://vm.localhost:9/", timeout=2))
    assert result.error_kind == ErrorKind.BLOCKED
    assert_tells_nothing(result.error_message)
    assert "127.0.0.1" in caplog.text or "::1" in caplog.text


def test_a_refused_webhook_does_not_say_what_its_host_resolved_to(guard_on, caplog):
    with caplog.at_level(logging.INFO, logger="monitor"):
        with pytest.raises(TransportError) as caught:
            slack.send({"url": "http://hooks.localhost:9/hook"}, messages.sample(), timeout=2)
    assert_tells_nothing(caught.value.message)
    assert "127.0.0.1" in caplog.text or "::1" in caplog.text  # the admin's log says it
    # Refused by the guard: sending again cannot help until someone changes the URL.
    assert caught.value.permanent is True


def test_the_one_http_stack_does_not_say_what_a_host_resolved_to(guard_on):
    with pytest.raises(curl.RequestFailed) as caught:
        curl.request("POST", "http://hooks.localhost:9/hook", body=b"{}", timeout=2)
    assert caught.value.kind == "blocked"
    assert_tells_nothing(caught.value.message)
