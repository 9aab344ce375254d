"""The raw ceiling: monitor.probe.probe_many alone against the local target.

    .venv/bin/python bench/ceiling.py                       # 10 s, 100 ms latency
    .venv/bin/python bench/ceiling.py --latency-ms 0 --seconds 20
    .venv/bin/python bench/ceiling.py --processes 2         # one prober per core
    .venv/bin/python bench/ceiling.py --tls                 # HTTPS (self-signed, trusted here)
    .venv/bin/python bench/ceiling.py --target-url http://127.0.0.1:9100  # a target you started

No database, no broker: N distinct URLs (/s/0 … /s/N-1) probed in batches
the size a check task gets, each check on a fresh connection as the engine
makes it, for a fixed time or count. Prints checks/s, CPU ms per check of
the probing process(es) (getrusage) and p50/p99 of the response times, and
the target's own CPU per request (which is not the engine's).

With --tls the target's self-signed certificate is made the CA bundle of
this process only (monitor.probe.CA_BUNDLE), so checks succeed and the
figure includes the TLS handshake.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Group,
    ProcessSet,
    free_port,
    percentile,
    sample_groups,
    setup_django,
    target_argv,
    wait_for_port,
)


@dataclass
class CeilingFigures:
    checks: int = 0
    wall_seconds: float = 0.0
    cpu_user: float = 0.0
    cpu_system: float = 0.0
    up: int = 0
    response_ms: list[int] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    processes: int = 1

    @property
    def checks_per_second(self) -> float:
        return self.checks / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def cpu_ms_per_check(self) -> float:
        return (self.cpu_user + self.cpu_system) * 1000 / self.checks if self.checks else 0.0

    def merge(self, other: CeilingFigures) -> None:
        self.checks += other.checks
        self.wall_seconds = max(self.wall_seconds, other.wall_seconds)
        self.cpu_user += other.cpu_user
        self.cpu_system += other.cpu_system
        self.up += other.up
        self.response_ms += other.response_ms
        self.kinds.update(other.kinds)

    def lines(self) -> list[str]:
        times = sorted(self.response_ms)
        down = self.checks - self.up
        kinds = ", ".join(f"{k} {n:,}" for k, n in self.kinds.most_common()) or "none"
        return [
            f"checks            {self.checks:,} in {self.wall_seconds:.1f} s "
            f"({self.processes} process(es))",
            f"throughput        {self.checks_per_second:,.0f} checks/s",
            f"CPU per check     {self.cpu_ms_per_check:.3f} ms "
            f"(user {self.cpu_user:.2f} s, system {self.cpu_system:.2f} s)",
            f"response time     p50 {percentile(times, 0.5):.0f} ms, "
            f"p99 {percentile(times, 0.99):.0f} ms, max {times[-1] if times else 0} ms",
            f"outcomes          up {self.up:,}, down {down:,} ({kinds})",
        ]


def run_probes(
    base_url: str,
    *,
    sites: int,
    seconds: float | None,
    count: int | None,
    batch: int,
    concurrency: int,
    timeout: float = 10.0,
) -> CeilingFigures:
    """Probe base_url/s/<i> for i cycling over `sites`, batch after batch, until
    `seconds` have passed or `count` checks are done (whichever comes first).
    Needs Django set up (monitor.probe reads settings)."""
    from monitor.probe import Target, probe_many

    if seconds is None and count is None:
        raise ValueError("give seconds or count (or both): the loop must end")
    base_url = base_url.rstrip("/")
    figures = CeilingFigures()
    next_site = 0
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    deadline = started + seconds if seconds is not None else float("inf")
    limit = count if count is not None else float("inf")
    while figures.checks < limit and time.monotonic() < deadline:
        size = int(min(batch, limit - figures.checks))
        targets = []
        for _ in range(size):
            targets.append(Target(url=f"{base_url}/s/{next_site}", timeout=timeout))
            next_site = (next_site + 1) % sites
        for result in probe_many(targets, concurrency=concurrency):
            figures.checks += 1
            figures.up += result.up
            if result.error_kind:
                figures.kinds[str(result.error_kind)] += 1
            if result.response_ms is not None:
                figures.response_ms.append(result.response_ms)
    figures.wall_seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    figures.cpu_user = after.ru_utime - before.ru_utime
    figures.cpu_system = after.ru_stime - before.ru_stime
    return figures


def _probe_in_child(conn, base_url: str, options: dict) -> None:
    conn.send(run_probes(base_url, **options))
    conn.close()


def measure_ceiling(base_url: str, *, processes: int = 1, **options) -> CeilingFigures:
    """run_probes in `processes` processes at once (forked), figures summed.
    One process runs here, in this process."""
    if processes <= 1:
        return run_probes(base_url, **options)
    context = multiprocessing.get_context("fork")
    pipes, children = [], []
    for _ in range(processes):
        ours, theirs = context.Pipe(duplex=False)
        child = context.Process(target=_probe_in_child, args=(theirs, base_url, options))
        child.start()
        pipes.append(ours)
        children.append(child)
    total = CeilingFigures(processes=processes)
    budget = (options.get("seconds") or 600) + 120
    try:
        for pipe in pipes:
            if not pipe.poll(budget):
                raise RuntimeError("a probing process did not report in time")
            total.merge(pipe.recv())
    finally:
        for child in children:
            child.join(5)
            if child.is_alive():
                child.kill()
    return total


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=100_000, help="distinct URLs")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--count", type=int, help="stop after this many checks")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--fail-share", type=float, default=0.0)
    parser.add_argument("--processes", type=int, default=1, help="probing processes")
    parser.add_argument(
        "--batch",
        type=int,
        help="targets per probe_many call (default: UPTIME_DISPATCH_BATCH, what a check task gets)",
    )
    parser.add_argument("--concurrency", type=int, help="default: UPTIME_PROBE_CONCURRENCY")
    parser.add_argument("--target-processes", type=int, default=1)
    parser.add_argument("--tls", action="store_true", help="HTTPS target")
    parser.add_argument("--target-url", help="use a running target instead of starting one")
    return parser.parse_args(argv)


def engine_defaults(args: argparse.Namespace) -> None:
    from django.conf import settings

    args.batch = args.batch or settings.UPTIME_DISPATCH_BATCH
    args.concurrency = args.concurrency or settings.UPTIME_PROBE_CONCURRENCY


def print_ceiling(figures: CeilingFigures, *, target: Group | None = None) -> None:
    for line in figures.lines():
        print(f"  {line}")
    if target is not None and figures.checks:
        print(
            f"  target CPU        {target.cpu * 1e6 / figures.checks:.0f} µs per request "
            "(the target's, not the engine's)"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_django()
    engine_defaults(args)
    options = dict(
        sites=args.sites,
        seconds=args.seconds,
        count=args.count,
        batch=args.batch,
        concurrency=args.concurrency,
    )
    heading = (
        f"ceiling: probe_many alone, {args.sites:,} URLs, batch {args.batch}, "
        f"concurrency {args.concurrency}, latency {args.latency_ms:g} ms"
    )
    if args.target_url:
        print(heading + f", target {args.target_url}", flush=True)
        print_ceiling(measure_ceiling(args.target_url, processes=args.processes, **options))
        return
    with (
        tempfile.TemporaryDirectory(prefix="uptime-ceiling-") as tmp,
        ProcessSet(dict(os.environ), Path(tmp)) as procs,
    ):
        port = free_port()
        cert = Path(tmp) / "target.pem" if args.tls else None
        target = procs.start(
            "target",
            target_argv(
                port,
                latency_ms=args.latency_ms,
                fail_share=args.fail_share,
                processes=args.target_processes,
                tls_cert_out=cert,
            ),
        )
        wait_for_port(port)
        if cert is not None:
            import monitor.probe

            # Trust the self-signed target in this process only.
            monitor.probe.CA_BUNDLE = str(cert)
        scheme = "https" if args.tls else "http"
        print(heading + f", {scheme}", flush=True)
        group = Group("target", roots=[target.pid])
        sample_groups([group], at_start=True)
        figures = measure_ceiling(
            f"{scheme}://127.0.0.1:{port}", processes=args.processes, **options
        )
        sample_groups([group], at_start=False)
        print_ceiling(figures, target=group)


if __name__ == "__main__":
    main()
