"""A local HTTP target for the benchmarks: any path answers, cheaply.

    .venv/bin/python bench/target.py --port 9100 --latency-ms 100
    .venv/bin/python bench/target.py --port 9100 --fail-share 0.05 --processes 2
    .venv/bin/python bench/target.py --port 9443 --tls --cert-out /tmp/target.pem
    .venv/bin/python bench/target.py --port 9100 --mix --black-hole-port 9101

Every path answers (e.g. /s/12345): 200 "ok", or 503 for a fixed share of
paths chosen by a hash of the path (is_failing), so a site is consistently up
or consistently down. The answer is held back --latency-ms on a timer, never
by blocking, so thousands of slow answers are in flight at once. Each
connection gets one answer and is closed by the server (the engine opens a
fresh connection per check anyway, and the side that closes first keeps the
TIME_WAIT, which spares the client's ephemeral ports).

The server is a bare asyncio.Protocol writing a prebuilt response, so that it
costs little of the CPU being measured (uvloop is used when installed).
--processes N runs N processes sharing the port with SO_REUSEPORT. With --tls
a self-signed certificate for 127.0.0.1 is generated at start (with the
`cryptography` package if installed, otherwise the openssl command).

--mix answers like the real world instead (describe_mix(), chosen per path by
a hash, so each site keeps its behaviour): most answer in 20 ms to 1 s, some
take seconds, some never answer (the client times out), some close the
connection without answering, a few answer 503. --black-hole-port also opens
a listener that never accepts: once its small accept queue is full, the
kernel drops further SYNs and handshakes, as an overloaded server does.

It stops on SIGTERM/SIGINT or after --max-seconds, and prints the requests it
served and its own CPU seconds. Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

FAIL_SCALE = 1_000_000
MAX_REQUEST_HEAD = 16 * 1024


def is_failing(path: str | bytes, fail_share: float) -> bool:
    """Whether `path` answers 503: a fixed function of the path, so the same
    site is down on every check (and the benchmark can predict which)."""
    if isinstance(path, str):
        path = path.encode()
    return zlib.crc32(path) % FAIL_SCALE < fail_share * FAIL_SCALE


def _response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


OK = _response("200 OK", b"ok\n")
FAILING = _response("503 Service Unavailable", b"failing\n")
BAD_REQUEST = _response("400 Bad Request", b"bad request\n")


# --mix: per-mille bands of a path's hash → behaviour. A delay band answers
# after a log-uniform delay between its bounds (seconds).
MIX_BANDS = (
    (600, "delay", 0.02, 0.2),
    (850, "delay", 0.2, 1.0),
    (930, "delay", 1.0, 5.0),
    (960, "silent", 0, 0),  # never answers: the client's timeout ends it
    (980, "drop", 0, 0),  # closes the connection without an answer
    (1000, "fail", 0.05, 0.05),  # 503 after 50 ms
)
# One site in this many is pointed at the black-hole listener (bench/small_end.py).
MIX_BLACK_HOLE_EVERY = 20


def mix_behaviour(path: bytes) -> tuple[str, float]:
    """(what, delay in seconds) for a path under --mix."""
    h = zlib.crc32(path)
    band = h % 1000
    for upper, what, low, high in MIX_BANDS:
        if band < upper:
            spread = (h >> 10) % 1000 / 1000
            return what, low * (high / low) ** spread if low else 0.0
    raise AssertionError("the bands cover 0-999")


def describe_mix() -> str:
    parts, lower = [], 0
    for upper, what, low, high in MIX_BANDS:
        share = f"{(upper - lower) / 10:g}%"
        lower = upper
        if what == "delay":
            parts.append(f"{share} answer in {low * 1000:g}-{high * 1000:g} ms")
        else:
            parts.append(f"{share} {what}")
    return (
        f"mix ({', '.join(parts)}; and 1 site in {MIX_BLACK_HOLE_EVERY} on a listener "
        "that never accepts)"
    )


class Stats:
    def __init__(self) -> None:
        self.served = 0
        self.failed = 0


class Answer(asyncio.Protocol):
    """One connection: read the request head, answer after the latency, close."""

    __slots__ = ("buffer", "delay", "fail_share", "loop", "mix", "stats", "transport")

    def __init__(self, loop, stats: Stats, delay: float, fail_share: float, mix=False) -> None:
        self.loop = loop
        self.stats = stats
        self.delay = delay
        self.fail_share = fail_share
        self.mix = mix
        self.buffer = b""
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.buffer is None:  # already answered; ignore anything more
            return
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > MAX_REQUEST_HEAD:
                self._send(BAD_REQUEST)
            return
        parts = self.buffer.split(b"\r\n", 1)[0].split(b" ")
        self.buffer = None
        if len(parts) != 3:
            self._send(BAD_REQUEST)
            return
        if self.mix:
            self._answer_mixed(parts[1])
            return
        failing = self.fail_share > 0 and is_failing(parts[1], self.fail_share)
        self.stats.served += 1
        self.stats.failed += failing
        response = FAILING if failing else OK
        if self.delay:
            self.loop.call_later(self.delay, self._send, response)
        else:
            self._send(response)

    def _answer_mixed(self, path: bytes) -> None:
        what, delay = mix_behaviour(path)
        self.stats.served += 1
        if what == "silent":
            return  # hold the connection open, say nothing
        if what == "drop":
            self.transport.close()
            return
        self.stats.failed += what == "fail"
        self.loop.call_later(delay, self._send, FAILING if what == "fail" else OK)

    def _send(self, response: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(response)
            transport.close()  # flushes first

    def connection_lost(self, exc) -> None:
        self.transport = None


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (IP SAN) and its key, as PEM files."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        _self_signed_with_cryptography(cert, key)
    except ImportError:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
    return cert, key


def _self_signed_with_cryptography(cert_path: Path, key_path: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def serve(
    port: int,
    latency_ms: float,
    fail_share: float,
    tls: ssl.SSLContext | None,
    max_seconds: float,
    report=None,
    mix: bool = False,
) -> Stats:
    """Serve on 127.0.0.1:port in this process until a signal or max_seconds."""
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    stats = Stats()
    sock = _listening_socket(port)
    sock.listen(4096)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    loop.call_later(max_seconds, lambda: stop.done() or stop.set_result(None))
    delay = latency_ms / 1000

    async def run() -> None:
        server = await loop.create_server(
            lambda: Answer(loop, stats, delay, fail_share, mix), sock=sock, ssl=tls, backlog=4096
        )
        if report is not None:
            report.send("ready")
        await stop
        server.close()

    try:
        loop.run_until_complete(run())
    finally:
        loop.close()
    if report is not None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        report.send((stats.served, stats.failed, usage.ru_utime + usage.ru_stime))
    return stats


def _child(port, latency_ms, fail_share, tls_files, max_seconds, conn, mix) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    serve(port, latency_ms, fail_share, _tls_context(tls_files), max_seconds, conn, mix)


def black_hole(port: int) -> socket.socket:
    """A listener that is never accepted from: its queue (one connection) fills
    at once, and from then on the kernel drops new SYNs and handshakes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(0)
    return sock


def _tls_context(files: tuple[Path, Path] | None) -> ssl.SSLContext | None:
    if files is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*files)
    return context


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9100, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each answer")
    parser.add_argument("--fail-share", type=float, default=0.0, help="share of paths → 503")
    parser.add_argument("--processes", type=int, default=1, help="processes on SO_REUSEPORT")
    parser.add_argument("--tls", action="store_true", help="HTTPS with a self-signed cert")
    parser.add_argument("--cert-out", type=Path, help="with --tls: copy the certificate here")
    parser.add_argument("--mix", action="store_true", help="answer like the real world")
    parser.add_argument("--black-hole-port", type=int, help="a listener that never accepts")
    parser.add_argument("--max-seconds", type=float, default=4 * 3600, help="stop by itself")
    args = parser.parse_args(argv)
    if not 0 <= args.fail_share <= 1:
        parser.error("--fail-share must be between 0 and 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="uptime-target-") as tmp:
        tls_files = make_self_signed(Path(tmp)) if args.tls else None
        if tls_files and args.cert_out:
            args.cert_out.write_bytes(tls_files[0].read_bytes())
        # Reserve the port (bound, never listening) so every process shares it.
        reserved = _listening_socket(args.port)
        hole = black_hole(args.black_hole_port) if args.black_hole_port is not None else None
        port = reserved.getsockname()[1]
        loop_name = _loop_name()
        context = multiprocessing.get_context("fork")
        pipes, children = [], []
        for _ in range(args.processes):
            ours, theirs = context.Pipe()
            child = context.Process(
                target=_child,
                args=(
                    port,
                    args.latency_ms,
                    args.fail_share,
                    tls_files,
                    args.max_seconds,
                    theirs,
                    args.mix,
                ),
            )
            child.start()
            pipes.append(ours)
            children.append(child)
        for pipe in pipes:
            if not pipe.poll(30) or pipe.recv() != "ready":
                raise SystemExit("a target process did not start")
        scheme = "https" if args.tls else "http"
        print(
            f"target listening on {scheme}://127.0.0.1:{port}/ ({args.processes} process(es), "
            f"{loop_name}, "
            + (describe_mix() if args.mix else f"latency {args.latency_ms:g} ms")
            + f", fail share {args.fail_share:g})",
            flush=True,
        )

        def forward(signum, frame) -> None:
            for child in children:
                if child.pid and child.is_alive():
                    os.kill(child.pid, signal.SIGTERM)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        served = failed = 0
        cpu = 0.0
        for pipe, child in zip(pipes, children, strict=True):
            if pipe.poll(args.max_seconds + 30):
                served_one, failed_one, cpu_one = pipe.recv()
                served, failed, cpu = served + served_one, failed + failed_one, cpu + cpu_one
            child.join(10)
        reserved.close()
        if hole is not None:
            hole.close()
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu += own.ru_utime + own.ru_stime
    print(
        f"target served {served:,} requests ({failed:,} answered 503) in "
        f"{time.monotonic() - started:.1f} s, using {cpu:.2f} CPU s "
        f"({cpu / served * 1e6 if served else 0:.0f} µs per request)",
        flush=True,
    )


if __name__ == "__main__":
    main()
