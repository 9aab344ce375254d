"""Probing: one request or connection per check, classified into up,
degraded or a reason for down.

The engine is libcurl's multi interface (pycurl): one process drives hundreds
of checks at once in C, with Python touched only to start a transfer, to
vet each address before connecting, and to read the outcome. Measured against
requests + threads it costs about a twentieth of the CPU per check (see
bench/ and the README's performance section).

Every check is a fresh connection (no keep-alive between checks: the check
measures what a new visitor gets), follows at most MAX_REDIRECTS redirects,
reads at most MAX_BODY_BYTES of the decoded body, and has one total deadline,
the site's timeout, covering DNS, connect, TLS, redirects and body alike.
Nothing here touches the database.

Kinds: http (method, headers, body, auth, TLS settings; the answer judged by
monitor.kinds.http), tcp (CONNECT_ONLY: the connection is the check) and tls
(CONNECT_ONLY over https with a full handshake: the certificate is the check,
its expiry judged by monitor.kinds.tls). HTTPS checks resume TLS sessions
between checks of one host (see _TlsSessions), on a fresh TCP connection each.
"""

import errno
import hashlib
import os
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from urllib.parse import urlsplit

import certifi
import pycurl
from django.conf import settings
from django.utils import timezone

from monitor.errors import DEGRADED_KINDS, ErrorKind
from monitor.kinds import http as http_kind
from monitor.kinds import tls as tls_kind
from monitor.net import USER_AGENT, AddressNotAllowed, check_address, never_resolves

__all__ = ["ErrorKind", "ProbeResult", "Target", "is_up_status", "probe", "probe_many"]

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_LENGTH = 300
# Bounds of a sleep on the sockets between two runs of the transfers (_wait).
MIN_WAIT = 0.001
MAX_WAIT = 1.0
CA_BUNDLE = certifi.where()
# A full TLS handshake (the certificate read again) at least this often per
# host; checks in between resume the session.
FULL_HANDSHAKE_EVERY = 24 * 3600
# libcurl keeps ~25 hosts' sessions per share; hosts are spread over this
# many shares (made when first used, ~9 KB each).
SESSION_BUCKETS = 1024
MAX_TLS_PEERS = 100_000
CURLAUTH_BEARER = 1 << 6  # not named by pycurl

_TLS_ERRORS = {
    pycurl.E_SSL_CONNECT_ERROR,
    pycurl.E_PEER_FAILED_VERIFICATION,
    pycurl.E_SSL_CERTPROBLEM,
    pycurl.E_SSL_CIPHER,
    pycurl.E_SSL_CACERT_BADFILE,
    pycurl.E_SSL_ISSUER_ERROR,
    pycurl.E_SSL_CRL_BADFILE,
    pycurl.E_SSL_SHUTDOWN_FAILED,
    pycurl.E_SSL_ENGINE_NOTFOUND,
    pycurl.E_SSL_ENGINE_SETFAILED,
    pycurl.E_SSL_PINNEDPUBKEYNOTMATCH,
    pycurl.E_SSL_INVALIDCERTSTATUS,
    pycurl.E_USE_SSL_FAILED,
}
_INVALID_URL_ERRORS = {pycurl.E_UNSUPPORTED_PROTOCOL, pycurl.E_URL_MALFORMAT}


@dataclass(frozen=True, slots=True)
class Target:
    """What to probe: the site's target string, its kind and its cleaned
    options (secrets included), as monitor.kinds describes them."""

    url: str
    timeout: float
    site_id: int | None = None
    kind: str = "http"
    options: Mapping | None = None


@dataclass(frozen=True, slots=True)
class ProbeResult:
    up: bool
    checked_at: datetime
    status_code: int | None = None
    response_ms: int | None = None
    error_kind: str = ""
    error_message: str = ""
    site_id: int | None = None
    # When the TLS certificate the check saw expires (https, tls).
    cert_expires_at: datetime | None = None
    # Where it was checked from (monitor.models.Location; 1 is the central side).
    location_id: int = 1

    @property
    def reason(self) -> str:
        return self.error_message

    @property
    def degraded(self) -> bool:
        """Succeeded with a warning (too slow, certificate expiring soon)."""
        return self.up and self.error_kind in DEGRADED_KINDS

    @property
    def refused_here(self) -> bool:
        """This process's own address guard refused the target: nothing was
        asked of the site, so this says nothing about whether it is up."""
        return self.error_kind == ErrorKind.BLOCKED


def is_up_status(status_code: int) -> bool:
    """2xx and 3xx are up (a 3xx left after following redirects is an answer)."""
    return 200 <= status_code < 400


def probe(target: Target) -> ProbeResult:
    """GET one target within its timeout and classify the outcome."""
    return probe_many([target])[0]


def probe_many(
    targets: list[Target],
    *,
    concurrency: int = 500,
    on_results: Callable[[list[ProbeResult]], None] | None = None,
    flush_every: float = 0.5,
) -> list[ProbeResult]:
    """Probe many targets concurrently; results come back in target order.

    At most `concurrency` transfers run at once; a slow site holds only its
    own slot, for no longer than its own timeout. With `on_results`, finished
    results are also handed over in chunks at least every `flush_every`
    seconds, so fast sites are recorded without waiting for slow ones.
    """
    results: list[ProbeResult | None] = [None] * len(targets)
    pending: list[ProbeResult] = []
    last_flush = time.monotonic()
    # Grouped by CA file (stable, so the batch's order holds within a group):
    # libcurl keeps the roots it parsed for one file per multi handle, and
    # alternating files parses the whole default bundle again (~5 ms a check).
    waiting = deque(sorted(enumerate(targets), key=_ca_group))
    engine = _ENGINES.take()
    multi, free_handles = engine.multi, engine.idle
    finished = False
    running = 0
    # Wall-clock time of each start is monotonic time shifted to the clock once.
    clock_offset = timezone.now() - timedelta(seconds=time.monotonic())
    try:
        while waiting or running:
            while waiting and running < concurrency:
                index, target = waiting.popleft()
                transfer = free_handles.pop() if free_handles else _Transfer()
                early = transfer.start(index, target, clock_offset)
                if early is not None:  # refused before any network I/O
                    results[index] = early
                    pending.append(early)
                    free_handles.append(transfer)
                    continue
                multi.add_handle(transfer.curl)
                running += 1
            _drive(multi)
            for transfer, errcode, errmsg in _finished(multi):
                multi.remove_handle(transfer.curl)
                running -= 1
                result = transfer.result(errcode, errmsg)
                results[transfer.index] = result
                pending.append(result)
                free_handles.append(transfer)
            if on_results and pending and time.monotonic() - last_flush >= flush_every:
                on_results(pending)
                pending, last_flush = [], time.monotonic()
            if running:
                flush_in = flush_every - (time.monotonic() - last_flush) if pending else None
                multi.select(_wait(multi, flush_in))
        if on_results and pending:
            on_results(pending)
        finished = True
    finally:
        # Interrupted (a result handler raised), transfers may still be on
        # the multi handle: it is closed with them rather than reused.
        if finished:
            _ENGINES.give_back(engine)
        else:
            engine.close()
    return results  # type: ignore[return-value]


class _Engine:
    """A multi handle and the idle transfers that go with it."""

    def __init__(self) -> None:
        self.multi = pycurl.CurlMulti()
        self.idle: list[_Transfer] = []

    def close(self) -> None:
        for transfer in self.idle:
            transfer.curl.close()
        self.idle.clear()
        self.multi.close()


class _Engines:
    """Multi handles kept between probe_many() calls, one per batch running.

    A multi handle keeps the CA roots it parsed, so a batch on a fresh one
    parsed the whole default bundle again before its first HTTPS check, and
    made each of its curl handles (with their options) anew: costs a small
    installation, with a batch of ~50 checks a second, paid per check. A
    batch takes an idle engine (or makes one) and gives it back when done,
    keeping at most IDLE_TRANSFERS of its handles. Names are resolved afresh
    for every check (DNS_CACHE_TIMEOUT 0), as on a fresh multi handle.
    """

    IDLE_TRANSFERS = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Engine] = []

    def take(self) -> _Engine:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Engine()

    def give_back(self, engine: _Engine) -> None:
        while len(engine.idle) > self.IDLE_TRANSFERS:
            engine.idle.pop().curl.close()
        with self._lock:
            self._idle.append(engine)


_ENGINES = _Engines()


def _forget_engines() -> None:
    """In a forked child: the parent's handles are not the child's to use."""
    global _ENGINES
    _ENGINES = _Engines()


os.register_at_fork(after_in_child=_forget_engines)


def _wait(multi: pycurl.CurlMulti, flush_in: float | None) -> float:
    """How long to sleep on the sockets: until libcurl's next deadline (a
    timeout, a connect attempt), a flush of results, or MAX_WAIT.

    Each wake-up runs every transfer; waking on a fixed short tick made a
    check that waits seconds for a slow site cost ~20 wake-ups a second
    (three times the CPU per check against a real-world mix of targets).
    """
    curl_ms = multi.timeout()  # -1: libcurl has no deadline pending
    wait = MAX_WAIT if curl_ms < 0 else min(curl_ms / 1000, MAX_WAIT)
    if flush_in is not None:
        wait = min(wait, max(flush_in, 0.0))
    return max(wait, MIN_WAIT)


def _drive(multi: pycurl.CurlMulti) -> None:
    while True:
        status, _ = multi.perform()
        if status != pycurl.E_CALL_MULTI_PERFORM:
            return


def _finished(multi: pycurl.CurlMulti):
    while True:
        queued, ok_list, err_list = multi.info_read()
        for curl in ok_list:
            yield curl.transfer, 0, ""
        for curl, errcode, errmsg in err_list:
            yield curl.transfer, errcode, errmsg
        if not queued:
            return


class _Transfer:
    """One reusable curl handle and the state of the check it is running."""

    def __init__(self) -> None:
        self.curl = pycurl.Curl()
        self.curl.transfer = self
        self._set_base_options()
        # Whether the last check set options beyond the base ones (then the
        # handle is reset before the next check).
        self.custom = False
        self.share: pycurl.CurlShare | None = None
        self.index = 0
        self.target: Target | None = None
        self.started_at: datetime | None = None
        self.body_bytes = 0
        self.capped = False
        self.keep_body = False
        self.chunks: list[bytes] = []
        self.peer: tuple | None = None  # the TLS peer of an https check
        self.certinfo = False
        self.refusal: AddressNotAllowed | None = None
        # pycurl keeps a dup() of each socket we open; ours are closed when
        # the transfer ends (dropping them unclosed costs a warning each).
        self.sockets: list[socket.socket] = []

    def _set_base_options(self) -> None:
        # Options that never change are set once per handle, not per check:
        # on a hot path, each setopt from Python costs more than it looks.
        for option, value in (
            (pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS),
            (pycurl.REDIR_PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS),
            (pycurl.FOLLOWLOCATION, 1),
            (pycurl.MAXREDIRS, MAX_REDIRECTS),
            (pycurl.NOSIGNAL, 1),
            (pycurl.USERAGENT, USER_AGENT),
            (pycurl.ACCEPT_ENCODING, ""),  # decoded bytes count against the cap
            # Never through a proxy from the environment: the guard must see
            # the real destination.
            (pycurl.PROXY, ""),
            (pycurl.NOPROXY, "*"),
            (pycurl.FRESH_CONNECT, 1),
            (pycurl.FORBID_REUSE, 1),
            (pycurl.DNS_CACHE_TIMEOUT, 0),
            (pycurl.CAINFO, CA_BUNDLE),
            (pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1),
            (pycurl.WRITEFUNCTION, self._write),
            (pycurl.OPENSOCKETFUNCTION, self._open_socket),
        ):
            self.curl.setopt(option, value)

    def start(self, index: int, target: Target, clock_offset) -> ProbeResult | None:
        self.index = index
        self.target = target
        self.body_bytes = 0
        self.capped = False
        self.keep_body = False
        self.chunks.clear()
        self.peer = None
        self.certinfo = False
        self.refusal = None
        self.started_at = clock_offset + timedelta(seconds=time.monotonic())
        url = _curl_url(target)
        host_error = _host_refusal(url)
        if host_error is not None:
            return self._result(False, kind=ErrorKind.DNS, message=host_error, elapsed_ms=0)
        if target.kind not in ("http", "tcp", "tls"):
            message = f"{target.kind} monitors are not probed by this engine"
            return self._result(False, kind=ErrorKind.INVALID_URL, message=message, elapsed_ms=0)
        if self.custom:
            self.curl.reset()
            self._set_base_options()
            self.custom = False
        timeout_ms = max(int(target.timeout * 1000), 1)
        curl = self.curl
        curl.setopt(pycurl.URL, url)
        curl.setopt(pycurl.TIMEOUT_MS, timeout_ms)
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, timeout_ms)
        if target.kind == "http":
            self._configure_http(url, target.options or {})
        else:
            self._configure_connect_only(target.kind, target.options or {})
        return None

    def _configure_http(self, url: str, options: Mapping) -> None:
        settings = _http_settings(options) if options else ()
        for option, value in settings:
            self.curl.setopt(option, value)
        self.custom = bool(settings)
        self.keep_body = bool(options) and http_kind.needs_body(options)
        if url.startswith("https:"):
            self._configure_tls_session(url, options)

    def _configure_tls_session(self, url: str, options: Mapping) -> None:
        """Resume this host's TLS session, or do a full handshake and read the
        certificate (CERTINFO costs ~0.15 ms: only on full handshakes)."""
        parts = urlsplit(url)
        self.peer = (parts.hostname, parts.port or 443, _trust_key(options))
        if _SESSIONS.full_handshake_due(self.peer):
            self.certinfo = True
            self.curl.setopt(pycurl.OPT_CERTINFO, 1)
            self.curl.setopt(pycurl.SSL_SESSIONID_CACHE, 0)
            self.custom = True
            return
        share = _SESSIONS.share(self.peer)
        if share is not self.share:
            if self.share is not None:
                self.curl.unsetopt(pycurl.SHARE)
            self.curl.setopt(pycurl.SHARE, share)
            self.share = share

    def _configure_connect_only(self, kind: str, options: Mapping) -> None:
        self.curl.setopt(pycurl.CONNECT_ONLY, 1)
        if kind == "tls":
            # Every tls check verifies the whole chain again: no resumption.
            self.certinfo = True
            self.curl.setopt(pycurl.OPT_CERTINFO, 1)
            self.curl.setopt(pycurl.SSL_SESSIONID_CACHE, 0)
            if options.get("caBundle"):
                self.curl.setopt(*_ca_setting(options["caBundle"]))
        self.custom = True

    def _write(self, chunk: bytes) -> int:
        self.body_bytes += len(chunk)
        if self.keep_body:
            self.chunks.append(chunk)
        if self.body_bytes > MAX_BODY_BYTES:
            self.capped = True
            return 0  # stop reading; enough of the body has arrived
        return len(chunk)

    def _open_socket(self, purpose, address):
        """Vet every address right before connecting to it (also on redirects
        and after DNS changes), so a name cannot smuggle a request inside."""
        family, socktype, protocol, sockaddr = address
        try:
            check_address(sockaddr[0], host=self._host())
        except AddressNotAllowed as exc:
            self.refusal = exc
            return pycurl.SOCKET_BAD
        sock = socket.socket(family, socktype, protocol)
        self.sockets.append(sock)
        if not _bind_source(sock, family):
            return pycurl.SOCKET_BAD  # libcurl reports it as a failed connect
        return sock

    def _host(self) -> str:
        return (urlsplit(self.target.url).hostname or "") if self.target else ""

    def result(self, errcode: int, errmsg: str) -> ProbeResult:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()
        curl = self.curl
        elapsed_ms = round(curl.getinfo(pycurl.TOTAL_TIME_T) / 1000)
        if errcode == pycurl.E_WRITE_ERROR and self.capped:
            errcode = 0  # we stopped reading on purpose
        if errcode:
            kind, message = self._classify(errcode, errmsg)
            return self._result(False, kind=kind, message=message, elapsed_ms=elapsed_ms)
        if self.target.kind == "tcp":
            return self._result(True, elapsed_ms=elapsed_ms)
        if self.target.kind == "tls":
            return self._tls_result(elapsed_ms)
        return self._http_result(curl.getinfo(pycurl.RESPONSE_CODE) or None, elapsed_ms)

    def _http_result(self, status: int | None, elapsed_ms: int) -> ProbeResult:
        options = self.target.options or {}
        expires = self._certificate_expiry()
        failure = http_kind.status_failure(options, status) if status else ""
        if not options and status and is_up_status(status):
            failure = None
        if failure is not None:
            message = f"HTTP {status} {_phrase(status)}".strip() + failure
            return self._result(
                False,
                status=status,
                kind=ErrorKind.HTTP_STATUS,
                message=message,
                elapsed_ms=elapsed_ms,
                expires=expires,
            )
        if self.keep_body:
            body = b"".join(self.chunks)[:MAX_BODY_BYTES]
            content_type = self.curl.getinfo(pycurl.CONTENT_TYPE)
            failure = http_kind.body_failure(options, body, content_type)
            if failure:
                return self._result(
                    False,
                    status=status,
                    kind=ErrorKind.ASSERTION,
                    message=failure,
                    elapsed_ms=elapsed_ms,
                    expires=expires,
                )
        limit = options.get("maxResponseMs")
        if limit and elapsed_ms > limit:
            message = f"Answered in {elapsed_ms} ms, above the {limit} ms limit"
            return self._result(
                True,
                status=status,
                kind=ErrorKind.SLOW,
                message=message,
                elapsed_ms=elapsed_ms,
                expires=expires,
            )
        return self._result(True, status=status, elapsed_ms=elapsed_ms, expires=expires)

    def _tls_result(self, elapsed_ms: int) -> ProbeResult:
        expires = _leaf_expiry(self.curl)
        warning = expires and tls_kind.expiry_warning(expires, timezone.now(), self.target.options)
        if warning:
            return self._result(
                True,
                kind=ErrorKind.CERT_EXPIRING,
                message=warning,
                elapsed_ms=elapsed_ms,
                expires=expires,
            )
        return self._result(True, elapsed_ms=elapsed_ms, expires=expires)

    def _certificate_expiry(self) -> datetime | None:
        """The expiry of the certificate this https check was answered with:
        read on a full handshake, remembered for the resumed ones."""
        if self.peer is None:
            return None
        if self.certinfo:
            expires = _leaf_expiry(self.curl)
            _SESSIONS.saw_certificate(self.peer, expires)
            return expires
        return _SESSIONS.expiry(self.peer)

    def _classify(self, errcode: int, errmsg: str) -> tuple[str, str]:
        timeout = self.target.timeout
        if self.refusal is not None and errcode == pycurl.E_COULDNT_CONNECT:
            return ErrorKind.BLOCKED, str(self.refusal)
        if errcode == pycurl.E_COULDNT_RESOLVE_HOST:
            return ErrorKind.DNS, f"DNS lookup failed: {errmsg}"
        if errcode == pycurl.E_OPERATION_TIMEDOUT:
            return ErrorKind.TIMEOUT, f"No complete answer within {timeout:g}s"
        if errcode == pycurl.E_COULDNT_CONNECT:
            if self.curl.getinfo(pycurl.OS_ERRNO) == errno.ECONNREFUSED:
                return ErrorKind.CONNECT, "Connection refused"
            return ErrorKind.CONNECT, f"Connection failed: {errmsg}"
        if errcode in _TLS_ERRORS:
            return ErrorKind.TLS, f"TLS error: {errmsg}"
        if errcode == pycurl.E_TOO_MANY_REDIRECTS:
            return ErrorKind.REDIRECTS, f"More than {MAX_REDIRECTS} redirects"
        if errcode in _INVALID_URL_ERRORS:
            return ErrorKind.INVALID_URL, f"Unsupported URL: {errmsg}"
        return ErrorKind.PROTOCOL, f"Bad response: {errmsg}"

    def _result(
        self, up, *, status=None, kind="", message="", elapsed_ms=None, expires=None
    ) -> ProbeResult:
        return ProbeResult(
            up=up,
            checked_at=self.started_at,
            status_code=status,
            response_ms=elapsed_ms,
            error_kind=kind,
            error_message=message[:MAX_MESSAGE_LENGTH],
            site_id=self.target.site_id,
            cert_expires_at=expires,
        )


class _TlsSessions:
    """TLS sessions and certificate expiries of the hosts this process checks.

    Resuming a session skips the certificate chain's transfer and
    verification, the largest part of an HTTPS check's CPU. Sessions live in
    libcurl shares that outlast one probe_many() call; a share holds ~25
    hosts, so hosts are spread over SESSION_BUCKETS of them. Each host still
    gets a full handshake every FULL_HANDSHAKE_EVERY seconds, which reads its
    certificate's expiry again. A host's sessions are keyed by its trust
    settings too (libcurl does so as well), so a session made with ignoreTls
    never lets a verifying check skip verification.
    """

    def __init__(self) -> None:
        self._shares: dict[int, pycurl.CurlShare] = {}
        # peer → (expiry, monotonic time of the last full handshake read)
        self._peers: dict[tuple, tuple[datetime | None, float]] = {}

    def full_handshake_due(self, peer: tuple) -> bool:
        seen = self._peers.get(peer)
        return seen is None or time.monotonic() - seen[1] > FULL_HANDSHAKE_EVERY

    def share(self, peer: tuple) -> pycurl.CurlShare:
        bucket = hash(peer) % SESSION_BUCKETS
        share = self._shares.get(bucket)
        if share is None:
            share = pycurl.CurlShare()
            share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)
            share = self._shares.setdefault(bucket, share)
        return share

    def saw_certificate(self, peer: tuple, expires: datetime | None) -> None:
        if expires is None:  # not read: the next check tries again
            return
        self._peers.pop(peer, None)
        while len(self._peers) >= MAX_TLS_PEERS:
            del self._peers[next(iter(self._peers))]  # the longest unread
        self._peers[peer] = (expires, time.monotonic())

    def expiry(self, peer: tuple) -> datetime | None:
        seen = self._peers.get(peer)
        return seen[0] if seen else None


_SESSIONS = _TlsSessions()


# Linux: bind() takes the source address only, and connect() picks the port,
# unique per destination as for an unbound socket. A port picked by bind()
# must be unused by every other socket on that address, and connections the
# client closes first hold theirs for a minute (TIME_WAIT): at 800 checks a
# second a location ran out of ports and its probes stalled for seconds.
_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", None)


def _bind_source(sock: socket.socket, family: int) -> bool:
    """Send from UPTIME_SOURCE_ADDRESS when one is set (a location's own
    address; the tests give each location a loopback address of its own).
    False when this machine cannot send from it: the check fails at the
    network level, as it would with no route."""
    source = settings.UPTIME_SOURCE_ADDRESS
    if not source or (":" in source) != (family == socket.AF_INET6):
        return True
    try:
        if _BIND_ADDRESS_NO_PORT is not None:
            sock.setsockopt(socket.IPPROTO_IP, _BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
    except OSError:
        return False
    return True


def _curl_url(target: Target) -> str:
    """The URL libcurl is given: a tcp or tls target is a connection to
    host:port, made over http or https with CONNECT_ONLY."""
    if target.kind == "tcp":
        return "http://" + target.url.removeprefix("tcp://") + "/"
    if target.kind == "tls":
        return "https://" + target.url.removeprefix("tls://") + "/"
    return target.url


def _http_settings(options: Mapping) -> list[tuple[int, object]]:
    """The per-check curl options of an http monitor (none for the defaults)."""
    settings: list[tuple[int, object]] = []
    method, body = options.get("method") or "GET", options.get("body") or ""
    if method == "HEAD":
        settings.append((pycurl.NOBODY, 1))
    elif method == "POST":  # not CUSTOMREQUEST: redirects then turn it into GET as browsers do
        settings.append((pycurl.POSTFIELDS, body.encode()))
    elif method != "GET":
        settings.append((pycurl.CUSTOMREQUEST, method))
        if body:
            settings.append((pycurl.POSTFIELDS, body.encode()))
    # "Name;" is libcurl's way to send a header with an empty value.
    headers = [f"{k}: {v}" if v else f"{k};" for k, v in (options.get("headers") or {}).items()]
    if body:
        headers.append("Expect:")  # no 100-continue round trip
    if headers:
        settings.append((pycurl.HTTPHEADER, headers))
    if options.get("followRedirects") is False:
        settings.append((pycurl.FOLLOWLOCATION, 0))
    settings += _auth_settings(options)
    if options.get("ignoreTls"):
        settings += [(pycurl.SSL_VERIFYPEER, 0), (pycurl.SSL_VERIFYHOST, 0)]
    if options.get("caBundle"):
        settings.append(_ca_setting(options["caBundle"]))
    return settings


def _auth_settings(options: Mapping) -> list[tuple[int, object]]:
    # libcurl sends these credentials to the URL's host only, never to a
    # host a redirect leads to (CURLOPT_UNRESTRICTED_AUTH stays off).
    auth = options.get("authType")
    if auth == "basic":
        return [
            (pycurl.HTTPAUTH, pycurl.HTTPAUTH_BASIC),
            (pycurl.USERNAME, options.get("authUsername", "")),
            (pycurl.PASSWORD, options.get("authPassword", "")),
        ]
    if auth == "bearer":
        return [
            (pycurl.HTTPAUTH, CURLAUTH_BEARER),
            (pycurl.XOAUTH2_BEARER, options.get("bearerToken", "")),
        ]
    return []


def _ca_setting(pem: str) -> tuple[int, object]:
    """Extra CA certificates, trusted besides CA_BUNDLE, as one file per
    bundle. Not CAINFO_BLOB: a blob replaces CAINFO rather than adding to it,
    and turns off libcurl's cache of the parsed roots, so each handshake
    would parse the whole default bundle again (5 ms of CPU, against 0.7 ms
    for a whole check with the file). That cache holds one file per
    CurlMulti: batches mixing bundles parse them again at each switch."""
    return pycurl.CAINFO, _ca_file(pem)


_CA_FILES: dict[tuple[str, str], str] = {}


def _ca_file(pem: str) -> str:
    key = (CA_BUNDLE, _digest(pem))
    if key not in _CA_FILES:
        with open(CA_BUNDLE, "rb") as default:
            trusted = default.read()
        with tempfile.NamedTemporaryFile(prefix="uptime-ca-", suffix=".pem", delete=False) as out:
            out.write(trusted + b"\n" + pem.encode())
        _CA_FILES[key] = out.name
    return _CA_FILES[key]


def _digest(pem: str) -> str:
    return hashlib.sha256(pem.encode()).hexdigest()


def _ca_group(item: tuple[int, Target]) -> str:
    options = item[1].options
    return (options.get("caBundle") or "") if options else ""


def _trust_key(options: Mapping) -> str:
    if options.get("ignoreTls"):
        return "unverified"
    return _digest(options["caBundle"]) if options.get("caBundle") else ""


_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def _leaf_expiry(curl: pycurl.Curl) -> datetime | None:
    """notAfter of the server's own certificate, from CERTINFO ("Expire date:
    Dec  4 12:00:00 2026 GMT"); None when libcurl has none (a resumed session)."""
    try:
        chain = curl.getinfo(pycurl.INFO_CERTINFO)
    except pycurl.error:
        return None
    for name, value in chain[0] if chain else ():
        if name == "Expire date":
            return _parse_cert_time(value)
    return None


def _parse_cert_time(value: str) -> datetime | None:
    try:
        month, day, clock, year, _ = value.split()
        hour, minute, second = (int(part) for part in clock.split(":"))
        return datetime(int(year), _MONTHS[month], int(day), hour, minute, second, tzinfo=UTC)
    except (KeyError, ValueError):
        return None


def _host_refusal(url: str) -> str | None:
    """never_resolves() for the URL's host, which libcurl would otherwise look up."""
    rest = url.split("://", 1)[-1]
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if host.startswith("["):
        return None
    return never_resolves(host.rsplit(":", 1)[0])


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
