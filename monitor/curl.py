"""One outbound HTTP request through libcurl, behind the same guard as checks.

Checks run many transfers at once in monitor.probe; everything else that
leaves the process (a channel's webhook, a chat API) sends one request at a
time through `request()`, or many at once through `submit()`. All vet every address at connect time
(monitor.net.check_address in libcurl's socket hook), follow no proxy from
the environment, and bound the whole exchange by one timeout, so a server
that trickles its answer cannot hold a worker. Like healthchecks' hc/lib/curl.py.
"""

import errno
import itertools
import os
import queue
import socket
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from io import BytesIO
from urllib.parse import urlsplit

import certifi
import pycurl

from monitor.net import USER_AGENT, AddressNotAllowed, check_address, never_resolves

MAX_ANSWER_BYTES = 64 * 1024
# Requests in flight at once from submit() (one process).
MANY_AT_ONCE = 64
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
    seconds: float = 0.0  # how long the exchange took

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


def submit(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    priority: int = 0,
) -> Future:
    """request(), sent from this process's many-at-once sender; a Future of its Answer
    (or of RequestFailed). Lower priorities go out first, then in submission order."""
    future: Future = Future()
    host = urlsplit(url).hostname or ""
    if reason := never_resolves(host):
        future.set_exception(RequestFailed(f"DNS lookup failed: {reason}", kind="dns"))
        return future
    _many.submit(priority, (method, url, body, headers or {}, timeout), future)
    return future


class _Many:
    """One thread driving up to `size` requests at once through a CurlMulti.

    A thread per request in flight costs several times the CPU of the
    request itself (each answer's callbacks wait for the GIL); one CurlMulti
    loop does the same waiting in C. Its handles share the multi's
    connections, so a burst to one webhook reuses them.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.queue: queue.PriorityQueue = queue.PriorityQueue()
        self.order = itertools.count()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def submit(self, priority: int, request: tuple, future: Future) -> None:
        self.queue.put((priority, next(self.order), request, future))
        # Started on first use in the process that sends (a forked child has
        # the attribute but not the thread).
        if self.thread is None or self.pid != os.getpid():
            with self.lock:
                if self.thread is None or self.pid != os.getpid():
                    self.pid = os.getpid()
                    self.thread = threading.Thread(target=self._run, name="curl-many", daemon=True)
                    self.thread.start()

    def _run(self) -> None:
        while True:
            multi = pycurl.CurlMulti()
            busy: dict = {}
            try:
                self._drive(multi, busy)
            except Exception as exc:  # noqa: BLE001 (handed to every waiting caller)
                for _, future in busy.values():
                    future.set_exception(RequestFailed(f"Internal error: {exc}", kind="protocol"))
                multi.close()

    def _drive(self, multi: pycurl.CurlMulti, busy: dict) -> None:
        idle = [_Transfer() for _ in range(self.size)]
        while True:
            self._start_queued(multi, busy, idle)
            while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                pass
            while True:
                left, done, failed = multi.info_read()
                for handle, errcode, errmsg in [(h, 0, "") for h in done] + failed:
                    multi.remove_handle(handle)
                    transfer, future = busy.pop(handle)
                    idle.append(transfer)
                    try:
                        future.set_result(transfer.finish(errcode, errmsg))
                    except RequestFailed as exc:
                        future.set_exception(exc)
                if not left:
                    break
            if busy:
                # Short: a request submitted meanwhile waits at most this long.
                multi.select(0.005)

    def _start_queued(self, multi: pycurl.CurlMulti, busy: dict, idle: list) -> None:
        wait = not busy  # nothing in flight: sleep until something comes
        while idle:
            try:
                _, _, (method, url, body, headers, timeout), future = self.queue.get(block=wait)
            except queue.Empty:
                return
            wait = False
            if not future.set_running_or_notify_cancel():
                continue
            transfer = idle.pop()
            try:
                transfer.prepare(method, url, body=body, headers=headers, timeout=timeout)
            except Exception as exc:  # noqa: BLE001 (handed to the waiting caller)
                idle.append(transfer)
                future.set_exception(exc)
                continue
            multi.add_handle(transfer.curl)
            busy[transfer.curl] = (transfer, future)


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
        self.prepare(method, url, body=body, headers=headers, timeout=timeout)
        try:
            self.curl.perform()
        except pycurl.error as exc:
            errcode, errmsg = exc.args
        else:
            errcode, errmsg = 0, ""
        return self.finish(errcode, errmsg)

    def prepare(self, method, url, *, body, headers, timeout) -> None:
        """Set the handle up for one request (perform it, or add it to a CurlMulti)."""
        curl = self.curl
        curl.reset()
        self.refusal = None
        self.host = urlsplit(url).hostname or ""
        self.timeout = timeout
        self.answer_body = _CappedBuffer(MAX_ANSWER_BYTES)
        # Kept raw and read once at the end: a Python callback per header line
        # costs more than the request when many are in flight.
        self.answer_headers = BytesIO()
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
            (pycurl.WRITEFUNCTION, self.answer_body.write),
            (pycurl.HEADERFUNCTION, self.answer_headers.write),
            (pycurl.OPENSOCKETFUNCTION, self._open_socket),
        ):
            curl.setopt(option, value)
        if body is not None:
            curl.setopt(pycurl.POSTFIELDS, body)
        elif method.upper() == "GET":
            curl.setopt(pycurl.HTTPGET, 1)

    def finish(self, errcode: int, errmsg: str) -> Answer:
        """The answer of the request that just ended (errcode 0: it completed);
        RequestFailed if there is none."""
        try:
            if errcode and errcode != pycurl.E_WRITE_ERROR:  # the cap: what arrived is enough
                raise self._failure(errcode, errmsg, self.timeout)
        finally:
            for sock in self.sockets:
                sock.close()
            self.sockets.clear()
        return Answer(
            status=self.curl.getinfo(pycurl.RESPONSE_CODE),
            headers=_headers(self.answer_headers.getvalue()),
            body=self.answer_body.value(),
            seconds=self.curl.getinfo(pycurl.TOTAL_TIME),
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


def _headers(raw: bytes) -> dict[str, str]:
    """The last answer's headers (names in lower case) from every header line received."""
    headers: dict[str, str] = {}
    for line in raw.split(b"\n"):
        text = line.decode("iso-8859-1").strip()
        if text.startswith("HTTP/"):
            headers.clear()  # a 100 Continue's headers are not the answer's
        elif ":" in text:
            name, value = text.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers


_many = _Many(MANY_AT_ONCE)
