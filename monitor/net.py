"""Which network addresses Uptime may talk to, and how names become addresses.

Every outbound connection checks `check_address()` right before connecting:
checks in libcurl's socket hook (monitor.probe), and every other request
(channels, chat APIs) in monitor.curl's. Checking the address actually
connected to, rather than the URL, also catches DNS rebinding and redirects
to private addresses.
"""

import ipaddress
import logging
import socket

from django.conf import settings

log = logging.getLogger(__name__)

USER_AGENT = "Uptime/1.0 (self-hosted uptime monitor)"
PRIVATE_TARGETS_SETTING = "UPTIME_ALLOW_PRIVATE_TARGETS"


class ResolutionError(Exception):
    """The host name has no address."""


class AddressNotAllowed(Exception):
    """Every address of the host is one Uptime may not connect to.

    Its message is what a user is told, and names no address: "127.0.0.1 is a
    loopback address" would let anyone map what internal names resolve to.
    The address and its kind are kept on the exception and logged.
    """

    def __init__(self, address: str, kind: str) -> None:
        super().__init__(
            "The host resolves to a non-public address; monitoring private addresses "
            f"is off (set {PRIVATE_TARGETS_SETTING}=1 to allow it)"
        )
        self.address = address
        self.kind = kind


def address_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why `ip` is not a public address ("loopback", "private", ...), or None."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    if not ip.is_global:
        return "non-public"
    return None


def check_address(ip: str, *, host: str = "") -> None:
    """Raise AddressNotAllowed unless Uptime may connect to `ip` (of `host`, for the log)."""
    if settings.UPTIME_ALLOW_PRIVATE_TARGETS:
        return
    kind = address_kind(ipaddress.ip_address(ip.split("%", 1)[0]))
    if kind:
        log.info(
            "refused %s: %s is a %s address (%s is off)",
            host or ip,
            ip,
            kind,
            PRIVATE_TARGETS_SETTING,
        )
        raise AddressNotAllowed(ip, kind)


def never_resolves(host: str) -> str | None:
    """Why `host` can have no address without asking DNS (RFC 6761 §6.4:
    names under .invalid never exist), or None."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "invalid" or host.endswith(".invalid"):
        return f"{host} cannot resolve (the .invalid domain never exists)"
    return None


def resolve(host: str, port: int) -> list[tuple]:
    """getaddrinfo() for a TCP connection, answering special names locally.

    Names under .localhost and .invalid are answered without a DNS query, as
    RFC 6761 (sections 6.3 and 6.4) asks of resolver libraries. Numeric forms
    (127.1, 2130706433, 0x7f.1, [::1]) are parsed without one too.
    """
    host = host.strip("[]").rstrip(".").lower()
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        pass
    if host == "localhost" or host.endswith(".localhost"):
        return socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)
    if reason := never_resolves(host):
        raise ResolutionError(reason)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ResolutionError(f"{host} did not resolve: {exc.strerror}") from None
    if not infos:
        raise ResolutionError(f"{host} has no address")
    return infos
