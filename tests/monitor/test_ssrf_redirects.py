"""Redirects and changing DNS answers cannot carry a request to a private address.

With UPTIME_ALLOW_PRIVATE_TARGETS off the guard refuses loopback, yet every
server a test may run is on loopback. So the origin server gets an address of
its own, 127.0.0.3, and the tests' guard policy (patched in where the guard
decides: the check_address consulted by libcurl's socket hooks in monitor.probe
and monitor.curl) lets exactly that address through; every other address gets the real
decision. Redirect targets point at a listener on 127.0.0.1, 127.0.0.2 and ::1
that counts the connections it accepts, not requests: it must count none.

No name is looked up in DNS: targets are IP literals, localhost (answered by
libcurl and monitor.net without a query), or names pinned for libcurl with
CURLOPT_RESOLVE and for monitor.net with a stand-in for resolve().
"""

import selectors
import socket
import threading
from dataclasses import dataclass, field

import pycurl
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

import monitor.curl
import monitor.net
import monitor.probe
from monitor.probe import ErrorKind, Target, probe
from notifications.messages import sample
from notifications.transports import slack
from notifications.transports.base import TransportError

ORIGIN_HOST = "127.0.0.3"
PUBLIC_ADDRESS = "93.184.216.34"  # what the stand-in DNS answers first; never connected to


def _ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


IPV6 = _ipv6_loopback_available()
needs_ipv6 = pytest.mark.skipif(not IPV6, reason="no ::1 on this machine")


@dataclass
class CountingListener:
    """One port on 127.0.0.1, 127.0.0.2 and ::1, counting accepted connections."""

    port: int
    accepted: list = field(default_factory=list)


@pytest.fixture
def listener():
    sockets = _bind_same_port(["127.0.0.1", "127.0.0.2"] + (["::1"] if IPV6 else []))
    counting = CountingListener(port=sockets[0].getsockname()[1])
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.listen(16)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    stop = threading.Event()

    def accept_loop():
        while not stop.is_set():
            for key, _ in selector.select(timeout=0.05):
                conn, peer = key.fileobj.accept()
                counting.accepted.append((key.fileobj.getsockname()[0], peer))
                conn.close()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    yield counting
    stop.set()
    thread.join(timeout=2)
    selector.close()
    for sock in sockets:
        sock.close()


def _bind_same_port(hosts: list[str]) -> list[socket.socket]:
    for _ in range(20):
        sockets = []
        try:
            for host in hosts:
                sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
                sockets.append(sock)
                sock.bind((host, sockets[0].getsockname()[1] if len(sockets) > 1 else 0))
            return sockets
        except OSError:  # the port was taken on another address: try another
            for sock in sockets:
                sock.close()
    raise RuntimeError("no port free on every loopback address")


@pytest.fixture(scope="module")
def origin_server():
    # One for the module: stopping a server takes half a second.
    server = HTTPServer(host=ORIGIN_HOST, port=0)
    server.start()
    yield server
    if server.is_running():
        server.stop()


@pytest.fixture
def origin(origin_server):
    yield origin_server
    origin_server.clear()


@pytest.fixture
def guard_decisions(settings, monkeypatch, origin):
    """The guard on, letting exactly the origin's address through.

    Returns every address the guard was asked about."""
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    real_check_address = monitor.net.check_address
    decisions = []

    def check_address(ip: str, **kwargs) -> None:
        decisions.append(ip)
        if ip != ORIGIN_HOST:
            real_check_address(ip, **kwargs)

    monkeypatch.setattr(monitor.probe, "check_address", check_address)
    monkeypatch.setattr(monitor.curl, "check_address", check_address)
    monkeypatch.setattr(monitor.net, "check_address", check_address)
    return decisions


@pytest.fixture
def curl_resolve(monkeypatch):
    """Pin names for libcurl (CURLOPT_RESOLVE, "host:port:address"), so it asks no DNS."""
    pins: list[str] = []
    real_init = monitor.probe._Transfer.__init__

    def init(transfer):
        real_init(transfer)
        transfer.curl.setopt(pycurl.RESOLVE, pins)

    monkeypatch.setattr(monitor.probe._Transfer, "__init__", init)
    return pins


def redirect(origin: HTTPServer, location: str, status: int = 302) -> str:
    # Connection: close, so a redirect back to the origin needs a new connection.
    origin.expect_request("/start").respond_with_response(
        Response(status=status, headers={"Location": location, "Connection": "close"})
    )
    return origin.url_for("/start")


LOOPBACK_LOCATIONS = [
    "http://127.0.0.2:{port}/",
    "http://127.0.0.1:{port}/",
    "http://127.1:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f.0.0.1:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://app.localhost:{port}/",
    "//127.0.0.2:{port}/scheme-relative",
    pytest.param("http://[::1]:{port}/", marks=needs_ipv6),
    pytest.param("http://[::ffff:127.0.0.1]:{port}/", marks=needs_ipv6),
]


@pytest.mark.parametrize("location", LOOPBACK_LOCATIONS)
def test_a_redirect_to_loopback_is_refused_before_connecting(
    guard_decisions, origin, listener, location
):
    url = redirect(origin, location.format(port=listener.port))
    result = probe(Target(url=url, timeout=2))
    assert not result.up
    assert result.error_kind == ErrorKind.BLOCKED
    assert "UPTIME_ALLOW_PRIVATE_TARGETS" in result.error_message
    assert listener.accepted == []
    assert len(origin.log) == 1  # the redirect itself was served
    assert ORIGIN_HOST in guard_decisions
    assert set(guard_decisions) - {ORIGIN_HOST}  # the target reached the guard and was refused


@pytest.mark.parametrize("status", [301, 303, 307, 308])
def test_every_redirect_status_is_refused_alike(guard_decisions, origin, listener, status):
    url = redirect(origin, f"http://127.0.0.2:{listener.port}/", status=status)
    result = probe(Target(url=url, timeout=2))
    assert result.error_kind == ErrorKind.BLOCKED
    assert "127.0.0.2" in guard_decisions  # refused there; the message names no address
    assert listener.accepted == []


def test_a_redirect_several_hops_down_is_refused_too(guard_decisions, origin, listener):
    origin.expect_request("/hop1").respond_with_response(
        Response(status=302, headers={"Location": origin.url_for("/hop2")})
    )
    origin.expect_request("/hop2").respond_with_response(
        Response(status=302, headers={"Location": f"http://localhost:{listener.port}/"})
    )
    result = probe(Target(url=origin.url_for("/hop1"), timeout=2))
    assert result.error_kind == ErrorKind.BLOCKED
    assert listener.accepted == []
    assert len(origin.log) == 2


def test_with_private_targets_allowed_the_same_redirect_reaches_the_listener(
    settings, origin, listener
):
    # Proves the listener counts, so the zeros above mean something.
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = True
    url = redirect(origin, f"http://127.0.0.2:{listener.port}/")
    probe(Target(url=url, timeout=2))
    assert [address for address, _ in listener.accepted] == ["127.0.0.2"]


def test_a_name_that_answers_the_origin_then_loopback_is_refused_on_the_redirect(
    guard_decisions, origin, listener, curl_resolve
):
    # libcurl keeps one answer per name and port for a whole transfer, so the
    # name changes its answer between the two ports it is asked about.
    curl_resolve.extend(
        [f"rebind.test:{origin.port}:{ORIGIN_HOST}", f"rebind.test:{listener.port}:127.0.0.2"]
    )
    redirect(origin, f"http://rebind.test:{listener.port}/")
    result = probe(Target(url=f"http://rebind.test:{origin.port}/start", timeout=2))
    assert result.error_kind == ErrorKind.BLOCKED
    assert "127.0.0.2" in guard_decisions  # refused there; the message names no address
    assert listener.accepted == []
    assert len(origin.log) == 1


def test_a_pinged_name_that_was_public_when_validated_is_refused_when_it_turns_loopback(
    api_client, guard_decisions, listener, curl_resolve, monkeypatch
):
    # DNS rebinding: the ping's validation sees a public address, the probe a
    # moment later is told 127.0.0.1. The guard at connect time decides.
    monkeypatch.setattr(
        "sites.targets.resolve",
        lambda host, port: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_ADDRESS, port))],
    )
    curl_resolve.append(f"rebind.test:{listener.port}:127.0.0.1")
    response = api_client.get(f"/api/ping/http://rebind.test:{listener.port}/")
    assert response.status_code == 200
    body = response.json()
    assert body["up"] is False
    assert body["error"]["kind"] == ErrorKind.BLOCKED
    assert listener.accepted == []
    assert PUBLIC_ADDRESS not in guard_decisions  # only validated, never connected to


# --- Channels' requests (monitor.curl, one request at a time) -----------------


class _PinnedCurl:
    """A curl handle that pins names after every reset (CURLOPT_RESOLVE)."""

    def __init__(self, curl, pins):
        self._curl, self._pins = curl, pins

    def reset(self):
        self._curl.reset()
        self._curl.setopt(pycurl.RESOLVE, list(self._pins))

    def __getattr__(self, name):
        return getattr(self._curl, name)


@pytest.fixture
def request_pins(monkeypatch):
    """Pin names for monitor.curl.request ("host:port:address"), so it asks no DNS."""
    pins: list[str] = []
    real_init = monitor.curl._Transfer.__init__

    def init(transfer):
        real_init(transfer)
        transfer.curl = _PinnedCurl(transfer.curl, pins)

    monkeypatch.setattr(monitor.curl._Transfer, "__init__", init)
    monkeypatch.setattr(monitor.curl, "_local", threading.local())  # a fresh handle
    return pins


def test_a_channel_request_does_not_follow_a_redirect(guard_decisions, origin, listener):
    url = redirect(origin, f"http://127.0.0.2:{listener.port}/")
    with pytest.raises(TransportError, match="HTTP 302") as caught:
        slack.send({"url": url}, sample(), timeout=2)
    assert caught.value.permanent
    assert listener.accepted == []
    assert guard_decisions == [ORIGIN_HOST]  # no second connection was even considered


def test_a_webhook_name_that_turns_loopback_is_refused_before_connecting(
    guard_decisions, listener, request_pins
):
    request_pins.append(f"hooks.rebind.test:{listener.port}:127.0.0.2")
    with pytest.raises(TransportError, match="UPTIME_ALLOW_PRIVATE_TARGETS") as caught:
        slack.send({"url": f"http://hooks.rebind.test:{listener.port}/hook"}, sample(), timeout=2)
    assert caught.value.permanent
    assert listener.accepted == []
    assert guard_decisions == ["127.0.0.2"]


def test_a_name_whose_answer_changes_is_checked_again_on_the_next_connection(
    guard_decisions, origin, listener, request_pins
):
    origin.expect_request("/hook").respond_with_response(
        Response("ok", headers={"Connection": "close"})
    )
    request_pins.append(f"rebind.test:{origin.port}:{ORIGIN_HOST}")
    assert (
        monitor.curl.request("POST", f"http://rebind.test:{origin.port}/hook", body=b"x").status
        == 200
    )
    request_pins[:] = [f"rebind.test:{origin.port}:127.0.0.2"]
    with pytest.raises(monitor.curl.RequestFailed) as refused:
        monitor.curl.request("POST", f"http://rebind.test:{origin.port}/hook", body=b"x")
    assert refused.value.kind == "blocked"
    assert guard_decisions == [ORIGIN_HOST, "127.0.0.2"]
    assert listener.accepted == []
