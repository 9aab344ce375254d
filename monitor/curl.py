"""One outbound HTTP request through libcurl, behind the same guard as checks.

Checks run many transfers at once in monitor.probe; everything else that
leaves the process (a channel's webhook, a chat API) sends one request at a
time through `request()`. Both vet every address at connect time
(monitor.net.check_address in libcurl's socket hook), follow no proxy from
the environment, and bound the whole exchange by one timeout, so a server
that trickles its answer cannot hold a worker. Like healthchecks' hc/lib/curl.py.
"""

import errno
import socket
import threading
from dataclasses import dataclass, field
from io import BytesIO
from urllib.parse import urlsplit

import certifi
import pycurl

from monitor.net import USER_AGENT, AddressNotAllowed, check_address, never_resolves

MAX_ANSWER_BYTES = 64 * 1024
_TLS_ERRORS = {
    pycurl.E_SSL_CONNECT_ERROR,
    pycurl.E_PEER_FAILED_VERIFICATION,
    pycurl.E_SSL_CACERT_BADFILE,
    pycurl.E_SSL_CERTPROBLEM,
    pycurl.E_SSL_CIPHER,
}


class RequestFailed(Exception):
    """No answer arrived: `kind` is timeout, dns, connect, tls, blocked or invalid_url.

    `permanent` is True when sending again cannot help until someone changes
    the URL or the settings (a refused address, a malformed URL).
    """

    def __init__(self, message: str, *, kind: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.permanent = permanent


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


_local = threading.local()


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Answer:
    """Send one request and return its answer (any status); raise RequestFailed without one.

    Redirects are not followed: a webhook that redirects is misconfigured, and
    following it would send the message (and its secrets) somewhere else.
    """
    host = urlsplit(url).hostname or ""
    if reason := never_resolves(host):
        raise RequestFailed(f"DNS lookup failed: {reason}", kind="dns")
    transfer = _Transfer.for_this_thread()
    return transfer.run(method, url, body=body, headers=headers or {}, timeout=timeout)


class _Transfer:
    """A curl handle per thread: it keeps connections alive between requests
    to the same destination (a burst of alerts to one webhook)."""

    @classmethod
    def for_this_thread(cls) -> "_Transfer":
        transfer = getattr(_local, "transfer", None)
        if transfer is None:
            transfer = _local.transfer = cls()
        return transfer

    def __init__(self) -> None:
        self.curl = pycurl.Curl()
        self.refusal: AddressNotAllowed | None = None
        self.host = ""
        # libcurl keeps a dup() of each socket we open; ours are closed after
        # the request (dropping them unclosed costs a warning each).
        self.sockets: list[socket.socket] = []

    def run(self, method, url, *, body, headers, timeout) -> Answer:
        curl = self.curl
        curl.reset()
        self.refusal = None
        self.host = urlsplit(url).hostname or ""
        answer_body = _CappedBuffer(MAX_ANSWER_BYTES)
        answer_headers: dict[str, str] = {}
        for option, value in (
            (pycurl.URL, url),
            (pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS),
            (pycurl.FOLLOWLOCATION, 0),
            (pycurl.NOSIGNAL, 1),
            (pycurl.USERAGENT, USER_AGENT),
            (pycurl.PROXY, ""),  # the guard must see the real destination
            (pycurl.NOPROXY, "*"),
            (pycurl.CAINFO, certifi.where()),
            (pycurl.TIMEOUT_MS, max(int(timeout * 1000), 1)),
            (pycurl.CONNECTTIMEOUT_MS, max(int(timeout * 1000), 1)),
            (pycurl.CUSTOMREQUEST, method.upper()),
            # "Expect:" off: no 100-continue round trip before a large body.
            (pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in headers.items()] + ["Expect:"]),
            (pycurl.WRITEFUNCTION, answer_body.write),
            (pycurl.HEADERFUNCTION, lambda line: _header(line, answer_headers)),
            (pycurl.OPENSOCKETFUNCTION, self._open_socket),
        ):
            curl.setopt(option, value)
        if body is not None:
            curl.setopt(pycurl.POSTFIELDS, body)
        elif method.upper() == "GET":
            curl.setopt(pycurl.HTTPGET, 1)
        try:
            curl.perform()
        except pycurl.error as exc:
            errcode, errmsg = exc.args
            if errcode != pycurl.E_WRITE_ERROR:  # the cap: what arrived is enough
                raise self._failure(errcode, errmsg, timeout) from None
        finally:
            for sock in self.sockets:
                sock.close()
            self.sockets.clear()
        return Answer(
            status=curl.getinfo(pycurl.RESPONSE_CODE),
            headers=answer_headers,
            body=answer_body.value(),
        )

    def _open_socket(self, purpose, address):
        family, socktype, protocol, sockaddr = address
        try:
            check_address(sockaddr[0], host=self.host)
        except AddressNotAllowed as exc:
            self.refusal = exc
            return pycurl.SOCKET_BAD
        sock = socket.socket(family, socktype, protocol)
        self.sockets.append(sock)
        return sock

    def _failure(self, errcode: int, errmsg: str, timeout: float) -> RequestFailed:
        if self.refusal is not None and errcode == pycurl.E_COULDNT_CONNECT:
            return RequestFailed(str(self.refusal), kind="blocked", permanent=True)
        if errcode == pycurl.E_COULDNT_RESOLVE_HOST:
            return RequestFailed(f"DNS lookup failed: {errmsg}", kind="dns")
        if errcode == pycurl.E_OPERATION_TIMEDOUT:
            return RequestFailed(f"No complete answer within {timeout:g}s", kind="timeout")
        if errcode == pycurl.E_COULDNT_CONNECT:
            if self.curl.getinfo(pycurl.OS_ERRNO) == errno.ECONNREFUSED:
                return RequestFailed("Connection refused", kind="connect")
            return RequestFailed(f"Connection failed: {errmsg}", kind="connect")
        if errcode in _TLS_ERRORS:
            return RequestFailed(f"TLS error: {errmsg}", kind="tls")
        if errcode in (pycurl.E_URL_MALFORMAT, pycurl.E_UNSUPPORTED_PROTOCOL):
            return RequestFailed(f"Invalid URL: {errmsg}", kind="invalid_url", permanent=True)
        return RequestFailed(f"Bad response: {errmsg}", kind="protocol")


class _CappedBuffer:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.buffer = BytesIO()

    def write(self, chunk: bytes) -> int:
        room = self.cap - self.buffer.tell()
        self.buffer.write(chunk[: max(room, 0)])
        return len(chunk) if room > len(chunk) else 0  # 0 stops the transfer

    def value(self) -> bytes:
        return self.buffer.getvalue()


def _header(line: bytes, headers: dict[str, str]) -> None:
    text = line.decode("iso-8859-1").strip()
    if text.startswith("HTTP/"):
        headers.clear()  # a 100 Continue's headers are not the answer's
    elif ":" in text:
        name, value = text.split(":", 1)
        headers[name.strip().lower()] = value.strip()
