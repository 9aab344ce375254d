"""TLS targets for tests and benchmarks: a private CA, its certificates, and
HTTPS or plain TLS servers on 127.0.0.1 in a thread.

    ca = CertificateAuthority()
    with TlsServer(ca.issue(days=5)) as server:            # HTTPS, answers "ok"
        probe(Target(server.url, 2, options={"caBundle": ca.pem, ...}))
    with TlsServer(ca.issue(expired=True), http=False) as server:  # TLS, then close
        ...

Keys are P-256 (quick to make). Certificates name 127.0.0.1 and localhost
unless told otherwise.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import socketserver
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOCAL_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class Leaf:
    """A server certificate and its key, as PEM text."""

    cert_pem: str
    key_pem: str
    not_after: datetime.datetime


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alt_names(names) -> x509.SubjectAlternativeName:
    entries = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _validity(days: float, expired: bool) -> tuple[datetime.datetime, datetime.datetime]:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    if expired:
        return now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)
    return now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)


class CertificateAuthority:
    """A private root CA that signs leaf certificates."""

    def __init__(self, name: str = "Uptime Test CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.pem = _pem(self.cert)

    def issue(self, *, names=LOCAL_NAMES, days: float = 90, expired: bool = False) -> Leaf:
        """A leaf for `names`, valid `days` more days (or expired yesterday)."""
        key = ec.generate_private_key(ec.SECP256R1())
        not_before, not_after = _validity(days, expired)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(_alt_names(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        return Leaf(_pem(cert), _key_pem(key), not_after)


def self_signed(*, names=LOCAL_NAMES, days: float = 90) -> Leaf:
    """A leaf that signs itself: trusted by nobody."""
    key = ec.generate_private_key(ec.SECP256R1())
    not_before, not_after = _validity(days, expired=False)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(_name(names[0]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_alt_names(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Leaf(_pem(cert), _key_pem(key), not_after)


def server_context(leaf: Leaf) -> ssl.SSLContext:
    """A server-side SSLContext presenting `leaf` (Python's ssl reads files only)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="uptime-tls-") as tmp:
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert.write_text(leaf.cert_pem)
        key.write_text(leaf.key_pem)
        context.load_cert_chain(cert, key)
    return context


class _Answer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b"ok"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format, *args) -> None:  # quiet test output
        pass


class _HandshakeOnly(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(2)
        try:
            self.request.recv(1)  # until the client closes
        except OSError:
            pass


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.context = context
        self.resumed: list[bool] = []  # per connection: was the TLS session resumed

    def get_request(self):
        sock, address = self.socket.accept()
        # A client refusing the certificate fails the handshake: an OSError
        # that socketserver ignores, so the server carries on.
        wrapped = self.context.wrap_socket(sock, server_side=True)
        self.resumed.append(wrapped.session_reused)
        return wrapped, address

    def handle_error(self, request, client_address) -> None:
        pass


class TlsServer:
    """Serves `leaf` on 127.0.0.1 in a thread: HTTPS answering 200 "ok" on
    every path, or (http=False) a TLS handshake and nothing more."""

    def __init__(self, leaf: Leaf, *, http: bool = True) -> None:
        handler = _Answer if http else _HandshakeOnly
        self.server = _Server(handler, server_context(leaf))
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}/"
        self.resumed = self.server.resumed
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TlsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
