"""tcp and tls monitors' options: host, port, certExpiryDays, and their targets."""

import pytest
from django.core.exceptions import ValidationError

from monitor.kinds import tcp, tls


def error_fields(module, options) -> dict:
    with pytest.raises(ValidationError) as caught:
        module.clean(options)
    return caught.value.message_dict


@pytest.mark.parametrize("module", [tcp, tls])
@pytest.mark.parametrize("port", [0, 70000, -1, "http", True, 1.5])
def test_a_port_out_of_range_is_refused_on_port(module, port):
    assert "port" in error_fields(module, {"host": "127.0.0.1", "port": port})


@pytest.mark.parametrize("module", [tcp, tls])
def test_an_unknown_option_is_refused_on_its_name(module):
    assert "keyword" in error_fields(module, {"host": "127.0.0.1", "port": 5432, "keyword": "x"})


@pytest.mark.parametrize("module", [tcp, tls])
def test_a_bad_host_is_refused_on_host(module):
    assert "host" in error_fields(module, {"host": "bad host!", "port": 443})


@pytest.mark.parametrize("module", [tcp, tls])
def test_a_private_host_is_refused_on_host_when_the_guard_is_on(module, settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    assert "host" in error_fields(module, {"host": "127.0.0.1", "port": 443})


def test_tls_defaults_to_port_443_and_14_days():
    cleaned = tls.clean({"host": "Example.INVALID"})
    assert cleaned == {"host": "example.invalid", "port": 443, "certExpiryDays": 14, "caBundle": ""}
    assert tls.target(cleaned) == "tls://example.invalid:443"


@pytest.mark.parametrize("days", [0, 366, "14", None])
def test_cert_expiry_days_out_of_range_is_refused(days):
    assert "certExpiryDays" in error_fields(tls, {"host": "127.0.0.1", "certExpiryDays": days})


def test_targets_bracket_ipv6_hosts():
    assert tcp.target(tcp.clean({"host": "[::1]", "port": 5432})) == "tcp://[::1]:5432"
    assert tls.target(tls.clean({"host": "::1", "port": 8443})) == "tls://[::1]:8443"
