"""The central side's cost of recording checks from several locations, in-process.

    .venv/bin/python bench/located.py               # 3 locations, 3,000 sites, batches of 500
    .venv/bin/python bench/located.py --locations 1 # the one-location path, for comparison
    .venv/bin/python bench/located.py --profile     # and the top of cProfile

Creates a scratch database (--db, dropped at the end), --sites sites and
--locations live locations, then records --rounds rounds of checks, as
record_probes does: for each round a claim on every site, then each
location's results in batches of --batch, every site up. Prints the CPU per
check of this process (Python: recording, the ORM, psycopg) and of its
PostgreSQL backend (/proc utime+stime), which is what the central worker
spends per check at scale. No processes, no broker, no network.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_url, pg_cli, process_cpu_seconds, setup_django


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--sites", type=int, default=3000)
    add("--locations", type=int, default=3)
    add("--batch", type=int, default=500, help="results per record_probes message")
    add("--rounds", type=int, default=3, help="claims measured (one more warms up)")
    add("--profile", action="store_true", help="print the top of cProfile too")
    add("--sort", default="cumulative", help="cProfile order (cumulative, tottime …)")
    add("--db", default="uptime_bench_located", help="scratch database (dropped and created)")
    return parser.parse_args(argv)


def prepare(sites: int, locations: int) -> list[int]:
    """Sites and live locations (the central one disabled when others check)."""
    from django.core.management import call_command
    from django.utils import timezone

    from monitor.models import DEFAULT_LOCATION_ID, Location
    from sites.models import Site
    from teams.models import Project

    call_command("migrate", verbosity=0, interactive=False)
    project = Project.objects.create(name="located benchmark")
    Site.objects.bulk_create(
        Site(project=project, url=f"http://127.0.0.1:9/s/{i}", interval=60) for i in range(sites)
    )
    Location.objects.update_or_create(
        id=DEFAULT_LOCATION_ID, defaults={"name": "default", "enabled": False}
    )
    now = timezone.now()
    made = [Location.objects.create(name=f"loc{k}", last_seen_at=now) for k in range(locations)]
    return [location.id for location in made]


def one_round(site_ids: list[int], location_ids: list[int], batch: int, at: datetime) -> int:
    """Claim every site at `at`, then record each location's results, batch by batch."""
    from monitor.probe import ProbeResult
    from monitor.recording import record_results
    from sites.models import Site

    Site.objects.filter(id__in=site_ids).update(
        claimed_at=at, claim_expires_at=at + timedelta(seconds=70)
    )
    recorded = 0
    for location_id in location_ids:
        for start in range(0, len(site_ids), batch):
            results = [
                ProbeResult(
                    site_id=site_id,
                    checked_at=at + timedelta(milliseconds=i),
                    up=True,
                    status_code=200,
                    response_ms=100,
                    location_id=location_id,
                )
                for i, site_id in enumerate(site_ids[start : start + batch])
            ]
            record_results(results, claim=at)
            recorded += len(results)
    return recorded


def backend_cpu() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return process_cpu_seconds(cursor.fetchone()[0], reaped_children=False)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    pg_cli("dropdb", "--if-exists", "--force", args.db)
    pg_cli("createdb", args.db)
    setup_django(DATABASE_URL=database_url(args.db), UPTIME_LOCATION_STALE_AFTER="3600")
    from django.db import connections

    from sites.models import Site

    try:
        location_ids = prepare(args.sites, args.locations)
        site_ids = list(Site.objects.order_by("id").values_list("id", flat=True))
        start = datetime.now(UTC).replace(microsecond=0)
        one_round(site_ids, location_ids, args.batch, start)  # creates the views: not measured
        profile = cProfile.Profile() if args.profile else None
        python, backend = time.process_time(), backend_cpu()
        if profile:
            profile.enable()
        checks = sum(
            one_round(site_ids, location_ids, args.batch, start + timedelta(seconds=60 * k))
            for k in range(1, args.rounds + 1)
        )
        if profile:
            profile.disable()
        python, backend = time.process_time() - python, backend_cpu() - backend
        print(
            f"{checks:,} checks of {args.sites:,} sites from {len(location_ids)} location(s) "
            f"in batches of {args.batch}: Python {python * 1000 / checks:.3f} ms per check, "
            f"its PostgreSQL backend {backend * 1000 / checks:.3f} ms, "
            f"together {(python + backend) * 1000 / checks:.3f} ms"
        )
        if profile:
            pstats.Stats(profile).sort_stats(args.sort).print_stats(30)
    finally:
        connections.close_all()
        pg_cli("dropdb", "--if-exists", "--force", args.db)


if __name__ == "__main__":
    main()
