"""Probing dns monitors against a DNS server on 127.0.0.1 (tests/dns_server.py).

Every target here names that server as its resolver: no query leaves the machine.
"""

import socket

import pytest
from django.utils import timezone

from monitor.dnsprobe import probe_many
from monitor.errors import ErrorKind
from monitor.kinds import dns
from monitor.probe import Target


def dns_target(server, host, record_type="A", expected=(), *, timeout=2.0, site_id=None):
    options = dns.clean(
        {
            "host": host,
            "recordType": record_type,
            "expected": list(expected),
            "resolver": server.address if hasattr(server, "address") else server,
        }
    )
    return Target(
        url=dns.target(options), timeout=timeout, site_id=site_id, kind="dns", options=options
    )


def probe_one(*args, **kwargs):
    return probe_many([dns_target(*args, **kwargs)])[0]


@pytest.fixture
def unused_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_a_record_with_the_expected_address_is_up_with_its_query_time(dns_server):
    dns_server.set("example.test", "A", "192.0.2.1", "192.0.2.2")
    before = timezone.now()
    result = probe_one(dns_server, "example.test", "A", ["192.0.2.2"], site_id=7)
    assert result.up and not result.degraded
    assert result.error_kind == "" and result.error_message == ""
    assert result.response_ms is not None and result.response_ms >= 0
    assert result.site_id == 7
    assert before - timezone.timedelta(seconds=1) <= result.checked_at <= timezone.now()
    assert dns_server.queries == [("example.test", "A", "udp")]


def test_with_nothing_expected_any_answer_is_up(dns_server):
    dns_server.set("example.test", "A", "192.0.2.1")
    assert probe_one(dns_server, "example.test").up


def test_an_aaaa_record_is_compared_in_its_compressed_form(dns_server):
    dns_server.set("example.test", "AAAA", "2001:db8:0:0:0:0:0:1")
    assert probe_one(dns_server, "example.test", "AAAA", ["2001:DB8::1"]).up


def test_a_cname_record_is_compared_by_name(dns_server):
    dns_server.set("www.example.test", "CNAME", "Origin.Example.test.")
    dns_server.set("origin.example.test", "A", "192.0.2.1")
    assert probe_one(dns_server, "www.example.test", "CNAME", ["origin.example.test"]).up


def test_an_a_query_follows_a_cname_to_its_addresses(dns_server):
    dns_server.set("www.example.test", "CNAME", "origin.example.test")
    dns_server.set("origin.example.test", "A", "192.0.2.1")
    assert probe_one(dns_server, "www.example.test", "A", ["192.0.2.1"]).up


def test_mx_records_are_compared_with_their_preference(dns_server):
    dns_server.set("example.test", "MX", "10 mail.example.test.", "20 backup.example.test.")
    assert probe_one(dns_server, "example.test", "MX", ["20 Backup.example.test"]).up


def test_a_different_mx_answer_is_down_naming_both(dns_server):
    dns_server.set("example.test", "MX", "10 a.example.com.")
    result = probe_one(dns_server, "example.test", "MX", ["20 b.example.com"])
    assert not result.up
    assert result.error_kind == ErrorKind.DNS_ANSWER
    assert result.error_message == "MX answers are 10 a.example.com, expected 20 b.example.com"


def test_a_txt_record_is_compared_by_its_text(dns_server):
    dns_server.set("example.test", "TXT", '"v=spf1 -all"', '"google-site-verification=abc"')
    assert probe_one(dns_server, "example.test", "TXT", ["v=spf1 -all"]).up
    result = probe_one(dns_server, "example.test", "TXT", ["v=spf1 ~all"])
    assert result.error_kind == ErrorKind.DNS_ANSWER
    assert result.error_message == (
        'TXT answers are "google-site-verification=abc", "v=spf1 -all", expected "v=spf1 ~all"'
    )


def test_a_txt_record_of_several_strings_is_their_concatenation(dns_server):
    dns_server.set("example.test", "TXT", '"v=DKIM1; k=rsa; " "p=MIGf"')
    assert probe_one(dns_server, "example.test", "TXT", ["v=DKIM1; k=rsa; p=MIGf"]).up


def test_ns_records_are_compared_by_name(dns_server):
    dns_server.set("example.test", "NS", "ns1.example.test.", "ns2.example.test.")
    assert probe_one(dns_server, "example.test", "NS", ["ns2.example.test", "ns1.example.test"]).up
    result = probe_one(dns_server, "example.test", "NS", ["ns3.example.test"])
    assert not result.up and result.error_kind == ErrorKind.DNS_ANSWER


@pytest.mark.parametrize(
    ("record_type", "record", "expected"),
    [
        (
            "SOA",
            "ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 3600",
            "ns1.example.test hostmaster.example.test 2024010101 7200 3600 1209600 3600",
        ),
        ("SRV", "10 5 5060 sip.example.test.", "10 5 5060 sip.example.test"),
        ("CAA", '0 issue "letsencrypt.org"', "0 issue letsencrypt.org"),
    ],
)
def test_soa_srv_and_caa_records_are_compared_in_their_zone_file_form(
    dns_server, record_type, record, expected
):
    dns_server.set("example.test", record_type, record)
    assert probe_one(dns_server, "example.test", record_type, [expected]).up


def test_a_ptr_check_of_an_address_asks_for_its_reverse_name(dns_server):
    dns_server.set("1.2.0.192.in-addr.arpa", "PTR", "host.example.test.")
    assert probe_one(dns_server, "192.0.2.1", "PTR", ["host.example.test"]).up
    assert dns_server.queries == [("1.2.0.192.in-addr.arpa", "PTR", "udp")]


def test_a_name_that_does_not_exist_is_down_with_nxdomain(dns_server):
    result = probe_one(dns_server, "missing.example.test")
    assert not result.up
    assert result.error_kind == ErrorKind.DNS_ANSWER
    assert result.error_message == "missing.example.test does not exist (NXDOMAIN)"


def test_a_name_without_a_record_of_the_type_is_down(dns_server):
    dns_server.set("example.test", "A", "192.0.2.1")
    result = probe_one(dns_server, "example.test", "MX")
    assert result.error_kind == ErrorKind.DNS_ANSWER
    assert result.error_message == "example.test has no MX record"


def test_servfail_is_a_lookup_failure_and_refused_an_unexpected_answer(dns_server):
    dns_server.answer_with("broken.example.test", "SERVFAIL")
    dns_server.answer_with("closed.example.test", "REFUSED")
    broken, closed = probe_many(
        [
            dns_target(dns_server, "broken.example.test"),
            dns_target(dns_server, "closed.example.test"),
        ]
    )
    assert (broken.up, broken.error_kind) == (False, ErrorKind.DNS)
    assert "SERVFAIL" in broken.error_message
    assert (closed.up, closed.error_kind) == (False, ErrorKind.DNS_ANSWER)
    assert closed.error_message == "The resolver answered REFUSED"


def test_a_silent_resolver_times_out_after_asking_again(dns_server):
    dns_server.silent = True
    result = probe_one(dns_server, "example.test", timeout=2.5)
    assert not result.up
    assert result.error_kind == ErrorKind.TIMEOUT
    assert result.error_message == f"No answer from the resolver {dns_server.address} within 2.5s"
    # A lost datagram is not an outage: the query was sent again before giving up.
    assert len(dns_server.queries) >= 2


def test_a_resolver_nothing_listens_on_is_unreachable(unused_udp_port):
    result = probe_one(f"127.0.0.1:{unused_udp_port}", "example.test")
    assert not result.up
    assert result.error_kind == ErrorKind.DNS
    assert result.error_message == (
        f"The resolver 127.0.0.1:{unused_udp_port} is unreachable: Connection refused"
    )


def test_a_truncated_answer_is_asked_again_over_tcp(dns_server):
    dns_server.always_truncate = True
    dns_server.set("example.test", "MX", "10 mail.example.test.")
    assert probe_one(dns_server, "example.test", "MX", ["10 mail.example.test"]).up
    assert dns_server.queries == [("example.test", "MX", "udp"), ("example.test", "MX", "tcp")]


def test_an_answer_too_big_for_udp_comes_over_tcp(dns_server):
    records = [f'"{str(i) * 250}"' for i in range(10)]
    dns_server.set("example.test", "TXT", *records)
    assert probe_one(dns_server, "example.test", "TXT", ["9" * 250]).up
    assert ("example.test", "TXT", "tcp") in dns_server.queries


def test_a_changed_answer_is_seen_at_the_next_check(dns_server):
    dns_server.set("example.test", "A", "192.0.2.1")
    target = dns_target(dns_server, "example.test", "A", ["192.0.2.1"])
    assert probe_many([target])[0].up
    dns_server.set("example.test", "A", "198.51.100.7")
    result = probe_many([target])[0]
    assert result.error_message == "A answers are 198.51.100.7, expected 192.0.2.1"
    dns_server.set("example.test", "A")
    assert "does not exist" in probe_many([target])[0].error_message


def test_a_private_resolver_is_refused_at_query_time_once_the_setting_is_off(dns_server, settings):
    target = dns_target(dns_server, "example.test")  # saved while private targets were allowed
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    result = probe_many([target])[0]
    assert not result.up and result.refused_here
    assert "UPTIME_ALLOW_PRIVATE_TARGETS" in result.error_message
    assert dns_server.queries == []


def test_an_invalid_name_is_answered_without_any_query():
    # resolver "" would be the system's: the .invalid name never reaches it.
    options = dns.clean({"host": "monitored.invalid"})
    target = Target(url=dns.target(options), timeout=2, kind="dns", options=options)
    result = probe_many([target])[0]
    assert not result.up
    assert result.error_kind == ErrorKind.DNS_ANSWER
    assert "never exists" in result.error_message


def test_many_targets_are_checked_at_once_and_come_back_in_order(dns_server):
    for i in range(300):
        dns_server.set(f"n{i}.example.test", "A", f"192.0.2.{i % 250 + 1}")
    dns_server.silence("quiet.example.test")
    targets = []
    for i in range(300):
        if i % 50 == 0:
            targets.append(dns_target(dns_server, "quiet.example.test", timeout=1.5, site_id=i))
        elif i % 7 == 0:
            targets.append(dns_target(dns_server, f"gone{i}.example.test", site_id=i))
        else:
            expected = [f"192.0.2.{i % 250 + 1}"]
            targets.append(dns_target(dns_server, f"n{i}.example.test", "A", expected, site_id=i))
    handed_over = []

    results = probe_many(targets, concurrency=100, on_results=handed_over.extend, flush_every=0.1)

    assert [r.site_id for r in results] == list(range(300))
    assert sorted(r.site_id for r in handed_over) == list(range(300))
    for i, result in enumerate(results):
        if i % 50 == 0:
            assert result.error_kind == ErrorKind.TIMEOUT
        elif i % 7 == 0:
            assert result.error_kind == ErrorKind.DNS_ANSWER
        else:
            assert result.up, result.error_message


def test_a_target_with_options_that_were_never_cleaned_fails_alone(dns_server):
    dns_server.set("example.test", "A", "192.0.2.1")
    broken = Target(url="dns://x/A", timeout=2, kind="dns", options={"resolver": "dns.google"})
    no_options = Target(url="dns://x/A", timeout=2, kind="dns")
    results = probe_many([broken, no_options, dns_target(dns_server, "example.test")])
    assert [r.error_kind for r in results[:2]] == [ErrorKind.INVALID_URL] * 2
    assert results[2].up
