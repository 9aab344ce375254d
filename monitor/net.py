"""Which network addresses Uptime may talk to, and how names become addresses.

Every outbound connection checks `check_address()` right before connecting:
checks and pings in libcurl's socket hook (monitor.probe), the Slack webhook
through `guarded_session()`, whose connections resolve the host themselves.
Checking the address actually connected to, rather than the URL, also
catches DNS rebinding and redirects to private addresses. Inside a
`Deadline`, those connections also share a total time limit.
"""

import ipaddress
import logging
import socket
import threading
from contextvars import ContextVar

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError

log = logging.getLogger(__name__)

USER_AGENT = "Uptime/1.0 (self-hosted uptime monitor)"
PRIVATE_TARGETS_SETTING = "UPTIME_ALLOW_PRIVATE_TARGETS"


class ResolutionError(Exception):
    """The host name has no address. Not an OSError, so urllib3 passes it up."""


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


def guarded_connect(host: str, port: int, timeout, socket_options=None) -> socket.socket:
    """Connect to the first allowed address of host, checking each one first."""
    refusal = None
    last_error: OSError | None = None
    for family, socktype, proto, _, sockaddr in resolve(host, port):
        try:
            check_address(sockaddr[0], host=host)
        except AddressNotAllowed as exc:
            refusal = exc
            continue
        sock = socket.socket(family, socktype, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not None:
                sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    if last_error is not None:
        raise last_error
    raise refusal or ResolutionError(f"{host} has no usable address")


_current_deadline: ContextVar["Deadline | None"] = ContextVar("net_deadline", default=None)


class Deadline:
    """A total deadline for requests made through guarded_session() inside it.

    requests' timeout bounds each connect and each read, not their sum: a
    server that sends a byte a second, or answers headers slowly, would hold
    a worker for as long as it likes. At the deadline a timer shuts down every
    socket opened inside the block, and any read blocked on them returns at once.
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "Deadline":
        self._token = _current_deadline.set(self)
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        _current_deadline.reset(self._token)
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def watch(self, sock: socket.socket) -> None:
        # A duplicate of the descriptor: TLS wrapping detaches the original
        # socket object, and shutdown() acts on the connection behind both.
        duplicate = sock.dup()
        with self._lock:
            self._sockets.append(duplicate)
            if self.expired:
                _shut(duplicate)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed by the other side
        pass


class _GuardedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        try:
            sock = guarded_connect(self._dns_host, self.port, self.timeout, self.socket_options)
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc
        deadline = _current_deadline.get()
        if deadline is not None:
            deadline.watch(sock)
        return sock


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


def guarded_session() -> requests.Session:
    """A requests session whose every connection passes the address guard."""
    session = requests.Session()
    # No proxies or .netrc from the environment: the guard must see the real
    # destination, and credentials must never leak to a monitored site.
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    adapter = GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
