"""Mixed kinds: the engine alone against local HTTP, HTTPS, keyword, TCP and DNS targets.

    .venv/bin/python bench/mixed.py                 # 8 s per kind, then all kinds mixed
    .venv/bin/python bench/mixed.py --seconds 20 --hosts 1000

No database, no broker. Three target processes: bench/target.py's server for
plain HTTP, and for HTTPS with a certificate from a private CA (tests/tls_targets.py),
trusted through each monitor's caBundle option, as a user of a private CA
would. HTTPS targets are spread over --hosts names (h<i>.bench.localhost,
which libcurl answers as loopback without DNS; the certificate is a wildcard
for them), since TLS sessions are resumed per host. Each kind runs alone for
--seconds in batches the size a check task gets, then all kinds together;
it prints checks/s and the CPU per check of this process (getrusage), which
runs only the engine. HTTPS runs twice: as the engine does (sessions
resumed, a full handshake per host at least daily) and with a full
handshake on every check (--no-resume shows only that one). DNS targets ask
bench/dns_probe.py's server (its own process) and run in monitor.checking's
DNS thread beside libcurl's loop, as in a worker. "https, mixed CAs" puts
monitors trusting the private CA and monitors on the default roots in one
batch (the engine groups a batch by CA file: libcurl keeps one parsed).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `tests` importable
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, setup_django, wait_for_port
from bench.dns_probe import ZONE, _address
from bench.dns_probe import serve as serve_dns
from bench.target import serve

KINDS = ("http", "https", "keyword", "tcp", "dns")
DNS_NAMES = 1000


def start_target(port: int, context) -> multiprocessing.Process:
    fork = multiprocessing.get_context("fork")
    child = fork.Process(target=serve, args=(port, 0, 0, context, 3600, None), daemon=True)
    child.start()
    wait_for_port(port)
    return child


def make_targets(
    kind: str, count: int, *, http_port: int, https_port: int, hosts: int, ca_pem, resolver
):
    from monitor.kinds import dns, http, tcp
    from monitor.probe import Target

    base = http.clean({"url": f"http://127.0.0.1:{http_port}/"})
    secure = http.clean({"url": f"http://127.0.0.1:{http_port}/", "caBundle": ca_pem})
    keyword = http.clean({"url": f"http://127.0.0.1:{http_port}/", "keyword": "ok"})
    port_only = tcp.clean({"host": "127.0.0.1", "port": http_port})
    for i in range(count):
        if kind == "http":
            url = f"http://127.0.0.1:{http_port}/s/{i}"
            yield Target(url, 10, kind="http", options={**base, "url": url})
        elif kind == "https":
            url = f"https://h{i % hosts}.bench.localhost:{https_port}/s/{i}"
            yield Target(url, 10, kind="http", options={**secure, "url": url})
        elif kind == "keyword":
            url = f"http://127.0.0.1:{http_port}/k/{i}"
            yield Target(url, 10, kind="http", options={**keyword, "url": url})
        elif kind == "tcp":
            yield Target(tcp.target(port_only), 10, kind="tcp", options=port_only)
        elif kind == "dns":
            n = i % DNS_NAMES
            options = dns.clean(
                {"host": f"n{n}.{ZONE}", "expected": [_address(n)], "resolver": resolver}
            )
            yield Target(dns.target(options), 10, kind="dns", options=options)
        elif kind == "https, mixed CAs":  # half on the default roots: untrusted, down
            url = f"https://h{i % hosts}.bench.localhost:{https_port}/s/{i}"
            options = {**secure, "url": url} if i % 2 else {**base, "url": url}
            yield Target(url, 10, kind="http", options=options)


def measure(label: str, batches, *, seconds: float, batch: int, concurrency: int) -> None:
    from django.test import override_settings

    from monitor.checking import probe_all

    checks, up, kinds = 0, 0, Counter()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        with override_settings(UPTIME_PROBE_CONCURRENCY=concurrency):
            results = probe_all(batches(batch), on_results=None)
        for result in results:
            checks += 1
            up += result.up
            if result.error_kind:
                kinds[str(result.error_kind)] += 1
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    downs = ", ".join(f"{k} {n}" for k, n in kinds.items()) or "none"
    print(
        f"  {label:26} {checks / wall:7,.0f} checks/s   {cpu * 1000 / checks:.3f} ms CPU/check   "
        f"({checks:,} checks, up {up:,}; not up or degraded: {downs})",
        flush=True,
    )


def full_handshake_every_check() -> None:
    """The engine as it was before session reuse: no shares, no CERTINFO."""
    import monitor.probe

    monitor.probe._Transfer._configure_tls_session = lambda self, url, options: None


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per kind")
    parser.add_argument("--hosts", type=int, default=500, help="distinct HTTPS host names")
    parser.add_argument("--batch", type=int, help="default: UPTIME_DISPATCH_BATCH")
    parser.add_argument("--concurrency", type=int, help="default: UPTIME_PROBE_CONCURRENCY")
    parser.add_argument("--no-resume", action="store_true", help="full TLS handshake every check")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    setup_django()
    from django.conf import settings

    from tests.tls_targets import CertificateAuthority, server_context

    batch = args.batch or settings.UPTIME_DISPATCH_BATCH
    concurrency = args.concurrency or settings.UPTIME_PROBE_CONCURRENCY
    ca = CertificateAuthority()
    leaf = ca.issue(names=("*.bench.localhost", "127.0.0.1"))
    http_port, https_port = free_port(), free_port()
    children = [start_target(http_port, None), start_target(https_port, server_context(leaf))]
    here, there = multiprocessing.get_context("fork").Pipe()
    dns_server = multiprocessing.get_context("fork").Process(
        target=serve_dns, args=(DNS_NAMES, there), daemon=True
    )
    dns_server.start()
    children.append(dns_server)
    ports = dict(
        http_port=http_port,
        https_port=https_port,
        hosts=args.hosts,
        ca_pem=ca.pem,
        resolver=here.recv(),
    )
    print(
        f"mixed: the engine alone, batch {batch}, concurrency {concurrency}, "
        f"{args.seconds:g} s per kind, {args.hosts} HTTPS host names",
        flush=True,
    )
    try:
        if args.no_resume:
            full_handshake_every_check()
        for kind in KINDS:
            label = f"{kind} (full handshakes)" if kind == "https" and args.no_resume else kind
            measure(
                label,
                lambda n, kind=kind: list(make_targets(kind, n, **ports)),
                seconds=args.seconds,
                batch=batch,
                concurrency=concurrency,
            )

        def mixed(n):
            per_kind = [list(make_targets(kind, n // len(KINDS), **ports)) for kind in KINDS]
            return [target for group in zip(*per_kind, strict=True) for target in group]

        measure(
            "https, mixed CAs",
            lambda n: list(make_targets("https, mixed CAs", n, **ports)),
            seconds=args.seconds,
            batch=batch,
            concurrency=concurrency,
        )
        measure(
            "all five, interleaved",
            mixed,
            seconds=args.seconds,
            batch=batch,
            concurrency=concurrency,
        )
        if not args.no_resume:
            full_handshake_every_check()
            measure(
                "https (full handshakes)",
                lambda n: list(make_targets("https", n, **ports)),
                seconds=args.seconds,
                batch=batch,
                concurrency=concurrency,
            )
    finally:
        for child in children:
            child.kill()


if __name__ == "__main__":
    main()
