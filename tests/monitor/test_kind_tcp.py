"""tcp monitors: a connection accepted within the timeout is up."""

import os
import socket

import pytest

from monitor.errors import ErrorKind
from monitor.kinds import tcp
from monitor.probe import Target, probe, probe_many


def tcp_target(port: int, timeout: float = 2, site_id=None) -> Target:
    options = tcp.clean({"host": "127.0.0.1", "port": port})
    return Target(tcp.target(options), timeout, site_id=site_id, kind="tcp", options=options)


@pytest.fixture
def listener():
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock


def test_an_accepted_connection_is_up(listener):
    result = probe(tcp_target(listener.getsockname()[1]))
    assert result.up and result.error_kind == "" and result.status_code is None
    assert result.response_ms is not None


def test_a_refused_connection_is_down_with_connect():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = probe(tcp_target(port))
    assert not result.up and result.error_kind == ErrorKind.CONNECT
    assert result.error_message == "Connection refused"


def test_a_listener_that_never_accepts_is_down_with_timeout():
    # A full accept queue: Linux drops further SYNs, so connecting hangs.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(0)
        port = sock.getsockname()[1]
        fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        try:
            result = probe(tcp_target(port, timeout=0.5))
        finally:
            for filler in fillers:
                filler.close()
    assert not result.up and result.error_kind == ErrorKind.TIMEOUT


def test_connections_are_closed_when_the_batch_ends(listener):
    # A first batch makes the multi handle that batches keep (its own fds).
    assert probe_many([tcp_target(listener.getsockname()[1], site_id=0)])[0].up
    before = len(os.listdir("/proc/self/fd"))
    targets = [tcp_target(listener.getsockname()[1], site_id=i) for i in range(40)]
    results = probe_many(targets, concurrency=10)
    assert all(r.up for r in results)
    assert len(os.listdir("/proc/self/fd")) <= before + 1
