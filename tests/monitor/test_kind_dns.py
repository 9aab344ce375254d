"""The dns kind's options: record types, expected values in their normal form,
the resolver and its address guard, and the target string."""

import pytest
from django.core.exceptions import ValidationError

from monitor import kinds
from monitor.kinds import dns


def clean(**options) -> dict:
    return dns.clean({"host": "example.com", **options})


def errors(**options) -> dict:
    with pytest.raises(ValidationError) as caught:
        clean(**options)
    return caught.value.message_dict


def test_the_registry_names_the_dns_module():
    assert kinds.get("dns") is dns


def test_only_a_host_is_required_and_the_rest_gets_its_defaults():
    assert dns.clean({"host": "Example.COM."}) == {
        "host": "example.com",
        "recordType": "A",
        "expected": [],
        "resolver": "",
    }


@pytest.mark.parametrize(
    ("record_type", "given", "stored"),
    [
        ("A", "192.0.2.1", "192.0.2.1"),
        ("AAAA", "2001:DB8:0:0::1", "2001:db8::1"),
        ("CNAME", "Target.Example.com.", "target.example.com"),
        ("MX", "10 Mail.Example.com.", "10 mail.example.com"),
        ("TXT", "v=spf1 include:_spf.example.com -all", "v=spf1 include:_spf.example.com -all"),
        ("NS", "NS1.example.com", "ns1.example.com"),
        (
            "SOA",
            "ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 3600",
            "ns1.example.com hostmaster.example.com 2024010101 7200 3600 1209600 3600",
        ),
        ("SRV", "10 5 5060 SIP.example.com.", "10 5 5060 sip.example.com"),
        ("CAA", "0 issue letsencrypt.org", '0 issue "letsencrypt.org"'),
        ("PTR", "host.example.com.", "host.example.com"),
    ],
)
def test_each_record_type_keeps_its_expected_values_in_one_normal_form(record_type, given, stored):
    cleaned = clean(recordType=record_type.lower(), expected=[given])
    assert cleaned["recordType"] == record_type
    assert cleaned["expected"] == [stored]


def test_an_international_name_is_kept_in_its_ascii_form():
    assert clean(recordType="CNAME", expected=["bücher.example"])["expected"] == [
        "xn--bcher-kva.example"
    ]


def test_duplicate_expected_values_are_kept_once_in_their_order():
    cleaned = clean(expected=["192.0.2.2", "192.0.2.1", " 192.0.2.2 "])
    assert cleaned["expected"] == ["192.0.2.2", "192.0.2.1"]


def test_an_unknown_record_type_is_refused_naming_the_accepted_ones():
    message = errors(recordType="HINFO")["recordType"][0]
    assert "HINFO" in message
    assert "A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, CAA, PTR" in message


@pytest.mark.parametrize("record_type", [5, "", ["A"]])
def test_a_record_type_that_is_not_a_name_is_refused(record_type):
    assert "recordType" in errors(recordType=record_type)


@pytest.mark.parametrize(
    ("record_type", "value"),
    [
        ("A", "192.0.2"),
        ("A", "2001:db8::1"),  # an A record holds an IPv4 address
        ("AAAA", "192.0.2.1"),
        ("MX", "mail.example.com"),  # the preference is part of the value
        ("MX", "10 mail.example.com extra"),
        ("SRV", "5060 sip.example.com"),
        ("CNAME", "bad..name"),
        ("A", ""),
        ("A", "   "),
    ],
)
def test_an_expected_value_that_is_not_of_the_record_type_is_refused(record_type, value):
    message = errors(recordType=record_type, expected=[value])["expected"][0]
    assert record_type in message or "characters" in message


@pytest.mark.parametrize("expected", ["192.0.2.1", [1], {"a": "192.0.2.1"}, [None]])
def test_expected_must_be_a_list_of_strings(expected):
    assert errors(expected=expected) == {"expected": ['A list of values, e.g. ["192.0.2.1"].']}


def test_at_most_fifty_values_are_expected():
    assert len(clean(expected=[f"192.0.2.{i}" for i in range(50)])["expected"]) == 50
    assert "at most 50" in errors(expected=[f"192.0.2.{i}" for i in range(51)])["expected"][0]


def test_an_over_long_value_is_refused():
    assert "expected" in errors(recordType="TXT", expected=["x" * 2001])


def test_a_query_for_anything_but_ptr_needs_a_name_not_an_address():
    assert "needs a name" in errors(host="192.0.2.1")["host"][0]
    assert clean(host="192.0.2.1", recordType="PTR")["host"] == "192.0.2.1"


@pytest.mark.parametrize("host", ["", "bad..name", "a b", None])
def test_a_host_that_is_not_a_name_is_refused(host):
    assert "host" in errors(host=host)


def test_an_option_of_another_kind_is_refused():
    assert errors(port=53) == {"port": ["This field does not apply to this kind of monitor."]}


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("9.9.9.9", "9.9.9.9"),
        ("9.9.9.9:53", "9.9.9.9"),
        (" 9.9.9.9:5353 ", "9.9.9.9:5353"),
        ("2620:fe::fe", "2620:fe::fe"),
        ("[2620:00fe::fe]:53", "2620:fe::fe"),
        ("[2620:fe::fe]:5353", "[2620:fe::fe]:5353"),
        ("[2620:fe::fe]", "2620:fe::fe"),
        ("", ""),
        (None, ""),
    ],
)
def test_a_resolver_is_an_address_with_an_optional_port(given, stored):
    assert clean(resolver=given)["resolver"] == stored


@pytest.mark.parametrize("resolver", ["dns.google", "dns.google:53", "[::1", "[dns.google]:53", 53])
def test_a_resolver_that_is_not_an_address_is_refused(resolver):
    assert "not a name" in errors(resolver=resolver)["resolver"][0]


@pytest.mark.parametrize(
    "resolver", ["9.9.9.9:", "9.9.9.9:0", "9.9.9.9:70000", "[2620:fe::fe]:99999"]
)
def test_a_resolver_port_out_of_range_is_refused(resolver):
    assert "resolver" in errors(resolver=resolver)


def test_a_private_resolver_is_refused_when_private_targets_are_off(settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    for resolver in ("127.0.0.1:5353", "10.0.0.53", "[::1]:53", "169.254.169.253"):
        message = errors(resolver=resolver)["resolver"][0]
        assert "UPTIME_ALLOW_PRIVATE_TARGETS" in message
    assert clean(resolver="9.9.9.9")["resolver"] == "9.9.9.9"


def test_the_host_is_not_guarded_since_nothing_connects_to_it(settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    assert clean(host="localhost", resolver="9.9.9.9")["host"] == "localhost"


def test_a_private_resolver_is_accepted_when_private_targets_are_on(settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = True
    assert clean(resolver="127.0.0.1:5353")["resolver"] == "127.0.0.1:5353"


@pytest.mark.parametrize(
    ("options", "target"),
    [
        ({"host": "example.com"}, "dns://example.com/A"),
        ({"host": "example.com", "recordType": "mx"}, "dns://example.com/MX"),
        (
            {"host": "example.com", "recordType": "MX", "resolver": "127.0.0.1:5353"},
            "dns://example.com/MX@127.0.0.1:5353",
        ),
        (
            {"host": "2001:db8::1", "recordType": "PTR", "resolver": "[::1]:5353"},
            "dns://[2001:db8::1]/PTR@[::1]:5353",
        ),
    ],
)
def test_the_target_names_host_type_and_resolver(options, target):
    assert dns.target(dns.clean(options)) == target


@pytest.mark.parametrize(
    ("resolver", "address"),
    [
        ("9.9.9.9", ("9.9.9.9", 53)),
        ("9.9.9.9:5353", ("9.9.9.9", 5353)),
        ("2620:fe::fe", ("2620:fe::fe", 53)),
        ("[2620:fe::fe]:5353", ("2620:fe::fe", 5353)),
    ],
)
def test_a_cleaned_resolver_reads_back_as_its_address(resolver, address):
    assert dns.resolver_address(resolver) == address
