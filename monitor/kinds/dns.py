"""dns: the host has records of the type, and they include the expected values.

Expected values and the answers are compared in one normal form, made by
`render()` for both: addresses compressed, names in lower case without the
final dot, other records in their zone-file order ("10 mail.example.com" for
MX, "10 5 5060 sip.example.com" for SRV), TXT as its text joined. The resolver
is an IP address (a name would need another resolver to find it), checked
against the private-address guard here and again before every query.
"""

import ipaddress
import re

import dns.exception
import dns.name
import dns.rdata
from django.core.exceptions import ValidationError

from monitor.kinds import _common
from monitor.net import AddressNotAllowed, check_address

OPTIONS = {"host": "", "recordType": "A", "expected": [], "resolver": ""}
SECRETS = frozenset()

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "CAA", "PTR")
MAX_EXPECTED = 50
MAX_VALUE_LENGTH = 2000
DNS_PORT = 53
_BRACKETED = re.compile(r"\[([^\]]+)\](?::([^:]*))?")
_RESOLVER_FORMS = '"9.9.9.9", "9.9.9.9:5353" or "[2620:fe::fe]:53"'


def clean(options: dict) -> dict:
    _common.unknown_options(options, OPTIONS)
    record_type = _record_type(options.get("recordType"))
    host = _common.host(options.get("host"))
    if record_type != "PTR" and is_ip(host):
        raise ValidationError(
            {"host": [f"{host} is an IP address; a query for {record_type} records needs a name."]}
        )
    return {
        "host": host,
        "recordType": record_type,
        "expected": _expected(options.get("expected"), record_type),
        "resolver": _resolver(options.get("resolver")),
    }


def target(options: dict) -> str:
    host = options["host"]
    text = f"dns://{f'[{host}]' if ':' in host else host}/{options['recordType']}"
    return f"{text}@{options['resolver']}" if options.get("resolver") else text


def render(rdata: dns.rdata.Rdata) -> str:
    """One record in the normal form expected values are compared in."""
    return _RENDERERS.get(rdata.rdtype.name, _presentation)(rdata)


def resolver_address(resolver: str) -> tuple[str, int]:
    """(ip, port) of a cleaned resolver option."""
    match = _BRACKETED.fullmatch(resolver)
    if match:
        return match.group(1), int(match.group(2) or DNS_PORT)
    if is_ip(resolver):
        return resolver, DNS_PORT
    ip, port = resolver.rsplit(":", 1)
    return ip, int(port)


def resolver_text(ip: str, port: int) -> str:
    """The resolver option's form of an address: "ip", "ip:port" or "[ipv6]:port"."""
    if port == DNS_PORT:
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# --- recordType and expected ------------------------------------------------------


def _record_type(value) -> str:
    if value is None:
        return OPTIONS["recordType"]
    text = value.strip().upper() if isinstance(value, str) else ""
    if text not in RECORD_TYPES:
        raise ValidationError(
            {
                "recordType": [
                    f"{value!r} is not a record type; use one of {', '.join(RECORD_TYPES)}."
                ]
            }
        )
    return text


def _expected(value, record_type: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValidationError({"expected": ['A list of values, e.g. ["192.0.2.1"].']})
    if len(value) > MAX_EXPECTED:
        raise ValidationError(
            {"expected": [f"{len(value)} values; at most {MAX_EXPECTED} are checked."]}
        )
    cleaned = []
    for raw in value:
        normal = _normal_value(raw, record_type)
        if normal not in cleaned:
            cleaned.append(normal)
    return cleaned


def _normal_value(raw: str, record_type: str) -> str:
    text = raw if record_type == "TXT" else raw.strip()
    if not text or len(text) > MAX_VALUE_LENGTH:
        raise ValidationError(
            {"expected": [f"Each value is 1 to {MAX_VALUE_LENGTH} characters long."]}
        )
    if record_type == "TXT":
        return text  # the record's text as is: zone-file quoting is not asked of anyone
    try:
        rdata = dns.rdata.from_text("IN", record_type, text, origin=dns.name.root)
    except (dns.exception.DNSException, ValueError, UnicodeError) as exc:
        raise ValidationError(
            {
                "expected": [
                    f"{raw!r} is not a valid {record_type} value{_example(record_type)}: {exc}"
                ]
            }
        ) from None
    return render(rdata)


_EXAMPLES = {
    "A": "192.0.2.1",
    "AAAA": "2001:db8::1",
    "MX": "10 mail.example.com",
    "SRV": "10 5 5060 sip.example.com",
    "SOA": "ns1.example.com hostmaster.example.com 2024010101 7200 3600 1209600 3600",
    "CAA": "0 issue letsencrypt.org",
}


def _example(record_type: str) -> str:
    example = _EXAMPLES.get(record_type, "host.example.com")
    return f" (like {example!r})"


def _name(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _presentation(rdata) -> str:
    return rdata.to_text()


_RENDERERS = {
    "A": lambda r: ipaddress.ip_address(r.address).compressed,
    "AAAA": lambda r: ipaddress.ip_address(r.address).compressed,
    "CNAME": lambda r: _name(r.target),
    "NS": lambda r: _name(r.target),
    "PTR": lambda r: _name(r.target),
    "MX": lambda r: f"{r.preference} {_name(r.exchange)}",
    "SRV": lambda r: f"{r.priority} {r.weight} {r.port} {_name(r.target)}",
    "SOA": lambda r: (
        f"{_name(r.mname)} {_name(r.rname)} {r.serial} {r.refresh} {r.retry} {r.expire} {r.minimum}"
    ),
    "TXT": lambda r: b"".join(r.strings).decode("utf-8", "replace"),
}


# --- resolver ---------------------------------------------------------------------


def _resolver(value) -> str:
    if value is None or value == "":
        return ""
    try:
        ip, port = _split_resolver(value.strip() if isinstance(value, str) else "")
    except ValueError:
        raise ValidationError(
            {"resolver": [f"The resolver is an IP address ({_RESOLVER_FORMS}), not a name."]}
        ) from None
    port = _common.port(port, "resolver")
    try:
        check_address(ip)
    except AddressNotAllowed as exc:
        raise ValidationError({"resolver": [str(exc)]}) from None
    return resolver_text(ip, port)


def _split_resolver(text: str) -> tuple[str, str | int]:
    """(ip, port) from "ip", "ipv4:port", "[ipv6]" or "[ipv6]:port"; ValueError otherwise."""
    match = _BRACKETED.fullmatch(text)
    if match:
        ip = ipaddress.IPv6Address(match.group(1))
        return ip.compressed, match.group(2) or DNS_PORT
    if is_ip(text):
        return ipaddress.ip_address(text).compressed, DNS_PORT
    host, _, port = text.rpartition(":")
    return ipaddress.IPv4Address(host).compressed, port
