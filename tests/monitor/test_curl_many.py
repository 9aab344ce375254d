"""monitor.curl.submit: many requests at once from one thread, lowest priority first,
behind the same connect-time guard as request()."""

import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from monitor import curl


@pytest.fixture
def server():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def guard_on(settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False


def test_many_requests_at_once_each_get_their_own_answer(server):
    for n in range(20):
        server.expect_request(f"/{n}", method="POST").respond_with_data(
            f"answer {n}", status=200 if n % 2 else 503, headers={"Retry-After": str(n)}
        )
    futures = [curl.submit("POST", server.url_for(f"/{n}"), body=b"{}") for n in range(20)]

    answers = [future.result(timeout=10) for future in futures]

    assert [answer.body for answer in answers] == [f"answer {n}".encode() for n in range(20)]
    assert [answer.status for answer in answers] == [200 if n % 2 else 503 for n in range(20)]
    assert [answer.headers["retry-after"] for answer in answers] == [str(n) for n in range(20)]


def test_the_lowest_priority_goes_first_once_a_request_is_free(server, monkeypatch):
    monkeypatch.setattr(curl, "_many", curl._Many(1))  # one request in flight at a time
    release = threading.Event()

    def slow(request):
        release.wait(5)
        return Response("ok")

    server.expect_request("/busy", method="POST").respond_with_handler(slow)
    for path in ("/second-a", "/first", "/second-b"):
        server.expect_request(path, method="POST").respond_with_data("ok")
    busy = curl.submit("POST", server.url_for("/busy"), body=b"")
    time.sleep(0.2)  # the one request in flight
    later = [
        curl.submit("POST", server.url_for(path), body=b"", priority=priority)
        for path, priority in (("/second-a", 1), ("/first", 0), ("/second-b", 1))
    ]
    release.set()

    for future in [busy, *later]:
        future.result(timeout=10)
    assert [request.path for request, _ in server.log] == [
        "/busy",
        "/first",
        "/second-a",
        "/second-b",
    ]


def test_a_request_that_cannot_connect_fails_its_future(server):
    url = server.url_for("/hook")
    server.stop()  # nothing listens there now

    future = curl.submit("POST", url, body=b"{}", timeout=2)

    with pytest.raises(curl.RequestFailed) as caught:
        future.result(timeout=10)
    assert caught.value.kind == "connect"
    server.start()  # the fixture stops it again


def test_the_guard_refuses_a_private_address_before_connecting(guard_on):
    future = curl.submit("POST", "http://hooks.localhost:9/hook", body=b"{}", timeout=2)

    with pytest.raises(curl.RequestFailed) as caught:
        future.result(timeout=10)
    assert caught.value.kind == "blocked"
    assert caught.value.permanent
