"""The private-address guard.

Loopback forms are tried for real against a local listener that counts the
connections it accepts. Other non-public addresses are tested only at the
guard's decision point (check_address): nothing here connects anywhere but
127.0.0.1.
"""

import socket
import threading

import pytest
from django.core.exceptions import ValidationError

from monitor.net import AddressNotAllowed, ResolutionError, check_address, resolve
from monitor.probe import ErrorKind, Target, probe
from sites.targets import validate_target_address


@pytest.fixture
def guard_on(settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False


@pytest.fixture
def counting_listener():
    """A TCP listener on 127.0.0.1 that counts accepted connections."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    accepted = []
    stop = threading.Event()

    def accept_loop():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join(timeout=2)
    server.close()


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "[::1]",
        "localhost",
        "app.localhost",
    ],
)
def test_no_loopback_form_reaches_a_local_listener_when_the_guard_is_on(
    guard_on, counting_listener, host
):
    port, accepted = counting_listener
    result = probe(Target(url=f"http://{host}:{port}/", timeout=1))
    assert not result.up
    assert result.error_kind == ErrorKind.BLOCKED
    assert "UPTIME_ALLOW_PRIVATE_TARGETS" in result.error_message
    assert accepted == []


def test_with_the_guard_off_the_same_listener_is_reached(settings, counting_listener):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = True
    port, accepted = counting_listener
    probe(Target(url=f"http://127.0.0.1:{port}/", timeout=1))
    assert len(accepted) >= 1  # proves the listener counts, so the zero above means something


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "::ffff:169.254.169.254",  # the same, IPv4-mapped
        "::ffff:127.0.0.1",
        "fd00::1",  # unique local
        "fe80::1",  # link-local
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
    ],
)
def test_the_guard_refuses_non_public_addresses(guard_on, address):
    with pytest.raises(AddressNotAllowed, match="UPTIME_ALLOW_PRIVATE_TARGETS"):
        check_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_the_guard_lets_public_addresses_through(guard_on, address):
    check_address(address)  # decision only: nothing connects


def test_the_guard_allows_everything_when_private_targets_are_allowed(settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = True
    check_address("169.254.169.254")


def test_invalid_names_fail_without_a_dns_query():
    with pytest.raises(ResolutionError):
        resolve("anything.invalid", 80)


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "[::1]", "localhost"])
def test_numeric_and_localhost_forms_resolve_to_loopback(host):
    addresses = {info[4][0] for info in resolve(host, 80)}
    assert addresses <= {"127.0.0.1", "::1"}


def test_adding_a_loopback_site_is_refused_with_the_setting_named(guard_on):
    with pytest.raises(ValidationError, match="UPTIME_ALLOW_PRIVATE_TARGETS"):
        validate_target_address("http://localhost:8000/")
