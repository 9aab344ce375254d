"""The connect-time address guard holds for every probed kind and option set.

With UPTIME_ALLOW_PRIVATE_TARGETS off, a local listener must see no
connection at all, whatever the kind (tcp, tls, http with a method, headers,
auth, keyword or a CA bundle).
"""

import socket

import pytest

from monitor.errors import ErrorKind
from monitor.probe import Target, probe
from tests.tls_targets import CertificateAuthority


@pytest.fixture
def listener():
    with socket.create_server(("127.0.0.1", 0)) as sock:
        sock.setblocking(False)
        yield sock


def accepted_any(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def targets(port: int):
    url = f"http://127.0.0.1:{port}/"
    yield Target(f"tcp://127.0.0.1:{port}", 1, kind="tcp", options={"host": "127.0.0.1"})
    yield Target(f"tls://localhost:{port}", 1, kind="tls", options={"certExpiryDays": 14})
    yield Target(url, 1, options={"method": "POST", "body": "x", "headers": {"X-A": "1"}})
    yield Target(url, 1, options={"authType": "bearer", "bearerToken": "t", "keyword": "ok"})
    yield Target(
        url.replace("http:", "https:"), 1, options={"caBundle": CertificateAuthority().pem}
    )


@pytest.mark.parametrize("index", range(5))
def test_the_guard_refuses_every_kind_at_connect_time(settings, listener, index):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    target = list(targets(listener.getsockname()[1]))[index]
    result = probe(target)
    assert not result.up and result.error_kind == ErrorKind.BLOCKED
    assert "UPTIME_ALLOW_PRIVATE_TARGETS" in result.error_message
    assert not accepted_any(listener)


def test_with_the_guard_off_the_same_listener_is_reached(settings, listener):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = True
    port = listener.getsockname()[1]
    result = probe(Target(f"tcp://127.0.0.1:{port}", 1, kind="tcp"))
    assert result.up and accepted_any(listener)
