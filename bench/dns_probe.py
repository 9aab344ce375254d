"""DNS checks per second and CPU per check of monitor.dnsprobe.probe_many.

A local DNS server (tests/dns_server.py) runs in its own process on 127.0.0.1
with one A record per target, so only the probing's CPU is counted here. No
query leaves the machine.

    .venv/bin/python bench/dns_probe.py                 # 1,000 targets, 5 rounds
    .venv/bin/python bench/dns_probe.py --compare       # also the designs not chosen

--compare runs the same queries through dnspython's asyncio resolver (one
event loop) and through a thread pool of blocking queries, the two designs
monitor/dnsprobe.py was measured against.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_django

ZONE = "bench.test"


def serve(records: int, conn) -> None:
    """The server process: answer `records` names until told to stop."""
    from tests.dns_server import DNSServer

    with DNSServer() as server:
        for i in range(records):
            server.set(f"n{i}.{ZONE}", "A", _address(i))
        conn.send(server.address)
        conn.recv()


def _address(i: int) -> str:
    return f"192.0.2.{i % 250 + 1}"


def targets(count: int, resolver: str) -> list:
    from monitor.kinds import dns
    from monitor.probe import Target

    made = []
    for i in range(count):
        options = dns.clean(
            {"host": f"n{i}.{ZONE}", "expected": [_address(i)], "resolver": resolver}
        )
        made.append(
            Target(url=dns.target(options), timeout=5, site_id=i, kind="dns", options=options)
        )
    return made


def measure(name: str, run, count: int, rounds: int) -> None:
    rates, cpus = [], []
    for _ in range(rounds):
        cpu, wall = time.process_time(), time.monotonic()
        ups = run()
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        if ups != count:
            print(f"  {name}: only {ups} of {count} up")
        rates.append(count / wall)
        cpus.append(cpu / count * 1000)
    print(
        f"{name:28} {statistics.median(rates):7.0f} checks/s   "
        f"{statistics.median(cpus):.3f} ms CPU per check (median of {rounds}; "
        f"CPU {min(cpus):.3f} to {max(cpus):.3f})"
    )


def run_dnsprobe(batch: list, concurrency: int) -> int:
    from monitor.dnsprobe import probe_many

    return sum(result.up for result in probe_many(batch, concurrency=concurrency))


def run_asyncio_resolver(batch: list, concurrency: int) -> int:
    import dns.asyncresolver

    async def main() -> int:
        ip, port = batch[0].options["resolver"].split(":")
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = [ip], int(port)
        limit = asyncio.Semaphore(concurrency)

        async def one(target) -> bool:
            async with limit:
                answer = await resolver.resolve(
                    target.options["host"], "A", lifetime=target.timeout, search=False
                )
                return answer.rrset[0].address in target.options["expected"]

        return sum(await asyncio.gather(*(one(t) for t in batch)))

    return asyncio.run(main())


def run_thread_pool(batch: list, threads: int) -> int:
    import dns.message
    import dns.query

    def one(target) -> bool:
        ip, port = target.options["resolver"].split(":")
        query = dns.message.make_query(target.options["host"], "A")
        answer = dns.query.udp(query, ip, port=int(port), timeout=target.timeout)
        return answer.answer[0][0].address in target.options["expected"]

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(one, batch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    setup_django()

    here, there = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(args.targets, there), daemon=True)
    server.start()
    try:
        resolver = here.recv()
        batch = targets(args.targets, resolver)
        print(f"{args.targets} dns targets against a local server at {resolver} (its own process)")
        measure(
            "dnsprobe (selectors loop)",
            lambda: run_dnsprobe(batch, args.concurrency),
            args.targets,
            args.rounds,
        )
        if args.compare:
            measure(
                "dnspython asyncio resolver",
                lambda: run_asyncio_resolver(batch, args.concurrency),
                args.targets,
                args.rounds,
            )
            for threads in (50, 200):
                measure(
                    f"thread pool of {threads}",
                    lambda n=threads: run_thread_pool(batch, n),
                    args.targets,
                    args.rounds,
                )
    finally:
        here.send("stop")
        server.join(10)


if __name__ == "__main__":
    main()
