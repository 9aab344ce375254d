"""A small DNS server on 127.0.0.1 for tests and benchmarks: no query leaves the machine.

It answers over UDP and TCP on one ephemeral port from records the test sets
(`server.set("example.test", "MX", "10 mail.example.test")`), follows its own
CNAMEs, answers NXDOMAIN for names it has no record of, SERVFAIL or another
code for names given one, and says nothing at all for silenced names (or for
everything, with `silent = True`) so that clients time out. Answers too big
for UDP are sent truncated, as real servers do, so clients retry over TCP;
`always_truncate = True` forces that for every UDP answer. Records may change
while it runs.

    with DNSServer() as server:
        server.set("example.test", "A", "192.0.2.1")
        ...  # query 127.0.0.1 at server.port

Each answer is built by dnspython from the records' presentation form.
"""

import socket
import struct
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

HOST = "127.0.0.1"
UDP_LIMIT = 512  # without EDNS (RFC 1035 §4.2.1)
MAX_CNAME_CHAIN = 8
UDP_BUFFER = 4 * 1024 * 1024


class DNSServer:
    def __init__(self, *, ttl: int = 60) -> None:
        self.ttl = ttl
        self.silent = False
        self.always_truncate = False
        self.queries: list[tuple[str, str, str]] = []  # (name, type, "udp" | "tcp")
        self._records: dict[tuple[dns.name.Name, int], dns.rrset.RRset] = {}
        self._rcodes: dict[dns.name.Name, dns.rcode.Rcode] = {}
        self._silenced: set[dns.name.Name] = set()
        self._lock = threading.Lock()
        self._udp, self._tcp = _bind_pair()
        self.port = self._udp.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def address(self) -> str:
        """The "ip:port" form a dns monitor's resolver option takes."""
        return f"{HOST}:{self.port}"

    # --- configuring ---------------------------------------------------------

    def set(self, name: str, rdtype: str, *values: str) -> None:
        """Replace the records of one name and type (no values: remove them)."""
        key = (_name(name), dns.rdatatype.from_text(rdtype))
        # Built now, so a malformed value fails in the test, not in the server's thread.
        rrset = dns.rrset.from_text_list(
            key[0], self.ttl, "IN", key[1], values, origin=dns.name.root, relativize=False
        )
        with self._lock:
            if values:
                self._records[key] = rrset
            else:
                self._records.pop(key, None)

    def answer_with(self, name: str, rcode: str) -> None:
        """Answer every query for `name` with this response code ("SERVFAIL", "REFUSED")."""
        with self._lock:
            self._rcodes[_name(name)] = dns.rcode.from_text(rcode)

    def silence(self, name: str) -> None:
        """Never answer queries for `name` (the client times out)."""
        with self._lock:
            self._silenced.add(_name(name))

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._rcodes.clear()
            self._silenced.clear()
            self.queries.clear()
        self.silent = False
        self.always_truncate = False

    # --- running -------------------------------------------------------------

    def start(self) -> "DNSServer":
        for loop in (self._serve_udp, self._serve_tcp):
            thread = threading.Thread(target=loop, name=f"dns-{loop.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        for sock in (self._udp, self._tcp):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # a UDP socket is never "connected"
                pass
            sock.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> "DNSServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _serve_udp(self) -> None:
        while not self._stopping.is_set():
            try:
                wire, peer = self._udp.recvfrom(65535)
            except OSError:  # closed by stop()
                return
            response = self._respond(wire, "udp")
            if response is None:
                continue
            limit = response.request_payload if response.edns >= 0 else UDP_LIMIT
            try:
                if self.always_truncate:
                    raise dns.exception.TooBig
                answer = response.to_wire(max_size=max(limit, UDP_LIMIT))
            except dns.exception.TooBig:
                answer = _truncated(response)
            try:
                self._udp.sendto(answer, peer)
            except OSError:
                return

    def _serve_tcp(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._serve_connection, args=(conn,), daemon=True).start()

    def _serve_connection(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                while True:
                    header = _read_exactly(conn, 2)
                    if header is None:
                        return
                    wire = _read_exactly(conn, struct.unpack("!H", header)[0])
                    if wire is None:
                        return
                    response = self._respond(wire, "tcp")
                    if response is not None:
                        # Any size over TCP (to_wire would cap it at the EDNS payload).
                        wire = response.to_wire(max_size=65535, prepend_length=True)
                        conn.sendall(wire)
            except OSError:
                return

    # --- answering -----------------------------------------------------------

    def _respond(self, wire: bytes, transport: str) -> dns.message.Message | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        question = query.question[0]
        name_text = question.name.to_text(omit_final_dot=True)
        self.queries.append((name_text, dns.rdatatype.to_text(question.rdtype), transport))
        with self._lock:
            if self.silent or question.name in self._silenced:
                return None
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA | dns.flags.RA
            rcode = self._rcodes.get(question.name)
            if rcode is not None:
                response.set_rcode(rcode)
                return response
            self._answer(response, question.name, question.rdtype)
        return response

    def _answer(self, response: dns.message.Message, name: dns.name.Name, rdtype: int) -> None:
        """Fill the answer section, following CNAMEs held here, or set NXDOMAIN."""
        for _ in range(MAX_CNAME_CHAIN):
            rrset = self._records.get((name, rdtype))
            if rrset:
                response.answer.append(rrset)
                return
            alias = self._records.get((name, dns.rdatatype.CNAME))
            if not alias:
                break
            response.answer.append(alias)
            name = alias[0].target
        if not any(owner == name for owner, _ in self._records):
            response.set_rcode(dns.rcode.NXDOMAIN)


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text.rstrip(".") + ".")


def _truncated(response: dns.message.Message) -> bytes:
    """The answer cut to its header and question, with TC set: "ask again over TCP"."""
    response.answer.clear()
    response.authority.clear()
    response.additional.clear()
    response.flags |= dns.flags.TC
    return response.to_wire()


def _bind_pair() -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on the same ephemeral port of 127.0.0.1."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for a burst of hundreds of queries at once (the kernel caps it
        # at net.core.rmem_max); the default drops some, and clients time out.
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_BUFFER)
        udp.bind((HOST, 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((HOST, udp.getsockname()[1]))
        except OSError:  # that port is taken for TCP: try another
            udp.close()
            tcp.close()
            continue
        tcp.listen(64)
        return udp, tcp
    raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data
