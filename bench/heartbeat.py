"""The heartbeat evaluator's cost per tick, and a ping's, with many heartbeat monitors.

Creates a scratch PostgreSQL database (DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/uptime_bench_heartbeat), loads --monitors
heartbeat monitors (period 1 h, half of them cron "0 * * * *" in
Europe/Paris) beside as many http sites, and prints, for
monitor.heartbeat.evaluate_heartbeats:

- the first tick, which derives every deadline;
- a quiet tick (nothing due), the one beat runs every 15 s nearly always;
- a tick where --due of them miss their deadline at once;

and for ping_receive (in-process, no HTTP): the median and p99 per ping.
Each line gives wall seconds, the process's CPU seconds and the queries
sent. Drops the database at the end (unless --keep).

    .venv/bin/python bench/heartbeat.py
    .venv/bin/python bench/heartbeat.py --monitors 1000 --due 100

Needs PostgreSQL on 127.0.0.1 with trust auth for user postgres. Loopback only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentile, setup_django
from bench.delete_site import admin_dsn

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/uptime_bench_heartbeat"
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=10_000, help="heartbeat monitors")
    parser.add_argument("--due", type=int, default=1_000, help="monitors missing at once")
    parser.add_argument("--pings", type=int, default=500, help="pings timed")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


def load(n: int) -> list:
    """Migrate and load n heartbeat monitors and n http sites, made at T0."""
    from django.core.management import call_command

    from sites.models import Site
    from tests.factories import alice_project

    call_command("migrate", verbosity=0, interactive=False)
    project = alice_project()
    hourly = {"period": 3600, "grace": 300, "cron": "", "timezone": "UTC"}
    cron = {"period": None, "grace": 300, "cron": "0 * * * *", "timezone": "Europe/Paris"}
    Site.objects.bulk_create(
        Site(
            project=project,
            kind="heartbeat",
            url="",
            options=hourly if i % 2 else cron,
            next_check_at=None,
            created_at=T0,
        )
        for i in range(n)
    )
    Site.objects.bulk_create(
        Site(project=project, url=f"https://site-{i}.example.invalid/", created_at=T0)
        for i in range(n)
    )
    return list(Site.objects.filter(kind="heartbeat").order_by("id"))


def measured(label: str, work) -> object:
    """Run work(), print wall and CPU seconds and queries; return its value."""
    from django.db import connection

    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    wall, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count):
        value = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"  {label:<44} {wall * 1000:9.1f} ms {cpu * 1000:9.1f} ms CPU {queries:6} queries")
    return value


def bench(args: argparse.Namespace) -> None:
    from django.db import connection

    from monitor.heartbeat import Signal, evaluate_heartbeats, ping_receive
    from monitor.models import Heartbeat

    sites = load(args.monitors)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE sites_site")
    print(f"{args.monitors:,} heartbeat monitors beside {args.monitors:,} http sites:")
    misses = measured("first tick (derives every deadline)", lambda: evaluate_heartbeats(T0))
    assert misses == 0, misses
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE monitor_heartbeat")
    quiet = T0 + timedelta(minutes=10)
    for n in range(3):
        measured(f"quiet tick {n + 1} (nothing due)", lambda: evaluate_heartbeats(quiet))
    # All but --due are pinged just now, so only --due miss at the next deadline.
    late = {site.id for site in sites[: args.due]}
    Heartbeat.objects.exclude(site_id__in=late).update(
        expected_from=T0 + timedelta(minutes=30), deadline_at=T0 + timedelta(minutes=95)
    )
    due_at = T0 + timedelta(hours=1, minutes=6)
    misses = measured(
        f"tick with {args.due:,} missed deadlines", lambda: evaluate_heartbeats(due_at)
    )
    assert misses == args.due, misses
    pinged = sites[args.due : args.due + args.pings]
    times = []
    at = T0 + timedelta(hours=1, minutes=10)
    cpu = time.process_time()
    for site in pinged:
        started = time.perf_counter()
        ping_receive(token=site.ping_token, signal=Signal.SUCCESS, now=at)
        times.append((time.perf_counter() - started) * 1000)
    cpu = (time.process_time() - cpu) * 1000 / len(pinged)
    times.sort()
    print(
        f"  ping_receive x {len(times)}: median {statistics.median(times):.2f} ms, "
        f"p99 {percentile(times, 0.99):.2f} ms, {cpu:.2f} ms CPU each"
    )


def main() -> None:
    args = parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    dsn, db = admin_dsn(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            setup_django(DATABASE_URL=url, UPTIME_DATA_DIR=data_dir, LOG_LEVEL="WARNING")
            bench(args)
            from django.db import connections

            connections.close_all()
    finally:
        if not args.keep:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
