"""Probing: one HTTP GET per check, classified into up or a reason for down.

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
"""

import errno
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from urllib.parse import urlsplit

import certifi
import pycurl
from django.utils import timezone

from monitor.errors import DEGRADED_KINDS, ErrorKind
from monitor.net import USER_AGENT, AddressNotAllowed, check_address, never_resolves

__all__ = ["ErrorKind", "ProbeResult", "Target", "is_up_status", "probe", "probe_many"]

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_LENGTH = 300
SELECT_TIMEOUT = 0.05
CA_BUNDLE = certifi.where()

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
    waiting = deque(enumerate(targets))
    multi = pycurl.CurlMulti()
    free_handles: list[_Transfer] = []
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
                multi.select(SELECT_TIMEOUT)
        if on_results and pending:
            on_results(pending)
    finally:
        for transfer in free_handles:
            transfer.curl.close()
        multi.close()
    return results  # type: ignore[return-value]


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
            (pycurl.CAINFO, CA_BUNDLE),
            (pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1),
            (pycurl.WRITEFUNCTION, self._write),
            (pycurl.OPENSOCKETFUNCTION, self._open_socket),
        ):
            self.curl.setopt(option, value)
        self.index = 0
        self.target: Target | None = None
        self.started_at: datetime | None = None
        self.body_bytes = 0
        self.capped = False
        self.refusal: AddressNotAllowed | None = None
        # pycurl keeps a dup() of each socket we open; ours are closed when
        # the transfer ends (dropping them unclosed costs a warning each).
        self.sockets: list[socket.socket] = []

    def start(self, index: int, target: Target, clock_offset) -> ProbeResult | None:
        self.index = index
        self.target = target
        self.body_bytes = 0
        self.capped = False
        self.refusal = None
        self.started_at = clock_offset + timedelta(seconds=time.monotonic())
        host_error = _host_refusal(target.url)
        if host_error is not None:
            return self._result(False, kind=ErrorKind.DNS, message=host_error, elapsed_ms=0)
        timeout_ms = max(int(target.timeout * 1000), 1)
        curl = self.curl
        curl.setopt(pycurl.URL, target.url)
        curl.setopt(pycurl.TIMEOUT_MS, timeout_ms)
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, timeout_ms)
        return None

    def _write(self, chunk: bytes) -> int:
        self.body_bytes += len(chunk)
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
        return sock

    def _host(self) -> str:
        return (urlsplit(self.target.url).hostname or "") if self.target else ""

    def result(self, errcode: int, errmsg: str) -> ProbeResult:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()
        curl = self.curl
        elapsed_ms = round(curl.getinfo(pycurl.TOTAL_TIME_T) / 1000)
        status = curl.getinfo(pycurl.RESPONSE_CODE) or None
        if errcode == pycurl.E_WRITE_ERROR and self.capped:
            errcode = 0  # we stopped reading on purpose
        if errcode:
            kind, message = self._classify(errcode, errmsg)
            return self._result(False, kind=kind, message=message, elapsed_ms=elapsed_ms)
        if is_up_status(status):
            return self._result(True, status=status, elapsed_ms=elapsed_ms)
        return self._result(
            False,
            status=status,
            kind=ErrorKind.HTTP_STATUS,
            message=f"HTTP {status} {_phrase(status)}".strip(),
            elapsed_ms=elapsed_ms,
        )

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

    def _result(self, up, *, status=None, kind="", message="", elapsed_ms=None) -> ProbeResult:
        return ProbeResult(
            up=up,
            checked_at=self.started_at,
            status_code=status,
            response_ms=elapsed_ms,
            error_kind=kind,
            error_message=message[:MAX_MESSAGE_LENGTH],
            site_id=self.target.site_id,
        )


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
