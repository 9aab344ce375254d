"""How checks resume after a stall: claims per second once the dispatcher is back.

    .venv/bin/python bench/stall.py                       # 20,000 sites, 60 s, stalled 120 s
    .venv/bin/python bench/stall.py --stall 30            # a stall shorter than the interval

Creates a scratch PostgreSQL database (--db, dropped at the end), inserts
--sites sites every --interval seconds whose due times were evenly spread
before the dispatcher stopped for --stall seconds, then runs the real claim
(monitor.dispatch.claim_due_sites) once per simulated second, as beat's tick
would, recording each claimed check at once (as a fast worker would). It prints
how many checks fall in each second after the restart and how long each claim
took. No worker or target runs: this is the dispatcher's schedule alone.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_url, percentile, setup_django
from bench.pipeline import FAR_FUTURE, create_database, drop_database


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=20_000)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--stall", type=float, default=120.0, help="seconds with no dispatch")
    parser.add_argument("--seconds", type=int, help="ticks to run (default: interval + 5)")
    parser.add_argument("--db", default="uptime_bench_stall")
    return parser.parse_args(argv)


def insert_stalled_sites(n: int, interval: int, stall: float, restart: datetime) -> None:
    """Sites evenly due over one interval, the first `stall` seconds before
    `restart`: the dispatcher stopped just before the first fell due."""
    from django.core.management import call_command
    from django.db import connection

    from sites.models import Site
    from teams.models import Project

    call_command("migrate", verbosity=0, interactive=False)
    project = Project.objects.create(name="stall benchmark")
    Site.objects.bulk_create(
        (
            Site(
                project=project,
                url=f"http://127.0.0.1:9/s/{i}",
                interval=interval,
                timeout=10,
                next_check_at=FAR_FUTURE,
            )
            for i in range(n)
        ),
        batch_size=5_000,
    )
    first = restart - timedelta(seconds=stall)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sites_site SET next_check_at = %s + "
            "(row_number - 1) * %s * interval '1 second' FROM "
            "(SELECT id AS rid, row_number() OVER (ORDER BY id) FROM sites_site) AS r "
            "WHERE id = r.rid",
            [first, interval / n],
        )
        cursor.execute("VACUUM ANALYZE sites_site")


def release(site_ids: list[int], claim: datetime) -> None:
    """What recording does to the site: drop the claim (no Check rows needed)."""
    from sites.models import Site

    Site.objects.filter(id__in=site_ids, claimed_at=claim).update(
        claimed_at=None, claim_expires_at=None
    )


def run(args: argparse.Namespace) -> None:
    from monitor.dispatch import claim_due_sites

    restart = datetime.now(UTC).replace(microsecond=0)
    insert_stalled_sites(args.sites, args.interval, args.stall, restart)
    seconds = args.seconds or args.interval + 5
    per_second: list[int] = []
    claim_ms: list[float] = []
    for tick in range(seconds):
        now = restart + timedelta(seconds=tick)
        started = time.perf_counter()
        total = 0
        while True:  # as dispatch_due_checks does
            ids = claim_due_sites(now)
            total += len(ids)
            release(ids, now)
            if len(ids) < 5000:
                break
        claim_ms.append((time.perf_counter() - started) * 1000)
        per_second.append(total)
    report(args, per_second, claim_ms)


def report(args, per_second: list[int], claim_ms: list[float]) -> None:
    overdue = min(args.sites, round(args.sites * args.stall / args.interval))
    print(
        f"stall: {args.sites:,} sites every {args.interval} s, dispatcher stopped {args.stall:g} s "
        f"({overdue:,} overdue at restart; the steady rate is "
        f"{args.sites / args.interval:,.0f}/s)"
    )
    print("checks claimed in each second after the restart:")
    for start in range(0, len(per_second), 10):
        row = " ".join(f"{n:6,}" for n in per_second[start : start + 10])
        print(f"  {start:3d}-{start + 9:<3d} s  {row}")
    counts = Counter(per_second)
    busiest = max(per_second)
    print(
        f"  busiest second {busiest:,} checks ({busiest / (args.sites / args.interval):.1f}x the "
        f"steady rate); first second {per_second[0]:,}; "
        f"{sum(per_second):,} claims in {len(per_second)} s; {counts[0]} idle second(s)"
    )
    ordered = sorted(claim_ms)
    print(
        f"  claim time per tick: p50 {percentile(ordered, 0.5):.1f} ms, "
        f"max {ordered[-1]:.1f} ms (first tick {claim_ms[0]:.1f} ms)"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_django(DATABASE_URL=database_url(args.db))
    create_database(args.db)
    try:
        run(args)
    finally:
        drop_database(args.db)


if __name__ == "__main__":
    main()
