"""Measure the bytes PostgreSQL spends per stored check, and per rollup row.

Creates a scratch database on the server DATABASE_URL points at, migrates it,
loads 1,000 sites and 200,000 checks (one a minute per site, in time order as
the recorder writes them, with realistic response times and ~2 % failures),
VACUUM ANALYZEs, then prints the table's size per check, split into heap,
TOAST and each index, and the average width of each column; then the same
after REINDEX (the key's index as compact as a rebuild leaves it). Then it
packs them as the hourly upkeep does (monitor.packing: one row per site,
location and hour) and prints the packed table's size per check, the time
packing took, and one site's 24-hour chart read from rows and from blocks.
Then it feeds the same checks to monitor.history.add_to_rollups in batches
of 500 and prints the rollup table's size per row. Drops the scratch
database at the end (unless --keep).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/uptime .venv/bin/python bench/bytes_per_check.py
    ... bench/bytes_per_check.py --sites 100 --checks 20000    # a quick one
    ... bench/bytes_per_check.py --checks 1440000              # a whole day: full hours
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dj_database_url
import psycopg

ROOT = Path(__file__).resolve().parent.parent
RECORDER_BATCH = 500


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="uptime_bytes", help="scratch database name")
    parser.add_argument("--sites", type=int, default=1_000)
    parser.add_argument("--checks", type=int, default=200_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


def server_dsn(url: str, db: str) -> str:
    config = dj_database_url.parse(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("DATABASE_URL must point at PostgreSQL (postgres://…).")
    parts = {
        "host": config.get("HOST") or "127.0.0.1",
        "port": config.get("PORT") or 5432,
        "user": config.get("USER") or "postgres",
        "password": config.get("PASSWORD") or "",
        "dbname": db,
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v != "")


def scratch_url(url: str, db: str) -> str:
    config = dj_database_url.parse(url)
    auth = config.get("USER") or "postgres"
    if config.get("PASSWORD"):
        auth += f":{config['PASSWORD']}"
    host = config.get("HOST") or "127.0.0.1"
    return f"postgres://{auth}@{host}:{config.get('PORT') or 5432}/{db}"


def setup_django(url: str, data_dir: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["UPTIME_DATA_DIR"] = data_dir
    os.environ.setdefault("SECRET_KEY", "bytes-bench-only")
    os.environ["DJANGO_SETTINGS_MODULE"] = "uptime.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- data -------------------------------------------------------------------------


def generate_checks(site_ids: list[int], n_checks: int, seed: int = 1):
    """Rows in time order: each minute, every site once. About 98 % up."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(minutes=math.ceil(n_checks / len(site_ids)))
    typical = {site_id: rng.lognormvariate(math.log(180), 0.7) for site_id in site_ids}
    for n in range(n_checks):
        site_id = site_ids[n % len(site_ids)]
        at = start + timedelta(minutes=n // len(site_ids), milliseconds=rng.randint(0, 59_999))
        roll = rng.random()
        if roll < 0.98:
            ms = max(1, int(typical[site_id] * rng.lognormvariate(0, 0.35)))
            yield (site_id, at, True, 200, ms, "", "")
        elif roll < 0.99:
            ms = int(typical[site_id] * 0.5)
            yield (site_id, at, False, 503, ms, "http_status", "HTTP 503 Service Unavailable")
        elif roll < 0.995:
            yield (site_id, at, False, None, 10_000, "timeout", "No complete answer within 10s")
        else:
            yield (site_id, at, False, None, rng.randint(1, 5), "connect", "Connection refused")


def load(n_sites: int, n_checks: int) -> list[tuple]:
    from django.core.management import call_command
    from django.db import connection

    from monitor.models import Check
    from sites.models import Site
    from teams.models import Project

    call_command("migrate", verbosity=0, interactive=False)
    project = Project.objects.create(name="bytes per check")
    Site.objects.bulk_create(
        Site(
            project=project, url=f"https://site-{n:05d}.example.com/health", name=f"Service {n:05d}"
        )
        for n in range(n_sites)
    )
    site_ids = list(Site.objects.order_by("id").values_list("id", flat=True))
    rows = list(generate_checks(site_ids, n_checks))
    columns = "site_id, checked_at, up, status_code, response_ms, error_kind, error_message"
    with connection.cursor() as cursor:
        copy_sql = f"COPY {Check._meta.db_table} ({columns}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
    return rows


# --- measuring --------------------------------------------------------------------


def sizes(table: str, vacuum: str) -> tuple[int, int, int, list[tuple[str, int]]]:
    """(rows, total bytes, heap bytes, [(index, bytes)]) after `vacuum`."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"{vacuum} {table}")
        cursor.execute(
            f"SELECT count(*), pg_total_relation_size(%s), pg_relation_size(%s) FROM {table}",
            [table, table],
        )
        count, total, heap = cursor.fetchone()
        cursor.execute(
            "SELECT indexname, pg_relation_size(quote_ident(indexname)::regclass) "
            "FROM pg_indexes WHERE tablename = %s ORDER BY 2 DESC",
            [table],
        )
        return count, total, heap, cursor.fetchall()


def column_widths(table: str, columns: list[str]) -> list[tuple[str, float]]:
    from django.db import connection

    selects = ", ".join(f"avg(pg_column_size({c}))" for c in ["t.*", *columns])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {selects} FROM {table} AS t")
        widths = cursor.fetchone()
    return list(zip(["(whole row data)", *columns], widths, strict=True))


def report(
    title: str, table: str, columns: list[str], unit: str, vacuum: str = "VACUUM ANALYZE"
) -> None:
    count, total, heap, indexes = sizes(table, vacuum)
    indexed = sum(size for _, size in indexes)
    print(f"\n{title}, after {vacuum}: {count:,} rows, {total / 2**20:.1f} MiB in all")
    print(f"  {'total':<36} {total / count:7.1f} bytes per {unit}")
    print(f"  {'heap (rows)':<36} {heap / count:7.1f}")
    for name, size in indexes:
        print(f"  {'index ' + name:<36} {size / count:7.1f}")
    print(
        f"  {'TOAST, free-space and visibility maps':<36} {(total - heap - indexed) / count:7.1f}"
    )
    if vacuum != "VACUUM ANALYZE":
        return
    print("  average stored width per column, bytes (the whole row with its 24-byte header):")
    for name, width in column_widths(table, columns):
        print(f"    {name:<34} {float(width):7.1f}")


def chart_ms(site_id: int, now: datetime) -> float:
    """The median of five reads of one site's 24-hour chart, in ms."""
    from monitor.charts import response_series

    timings = []
    for _ in range(5):
        started = time.perf_counter()
        response_series(site_id, "24h", now=now)
        timings.append(time.perf_counter() - started)
    return sorted(timings)[2] * 1000


def measure_packing(n_checks: int, site_id: int) -> None:
    from django.db import connection

    from monitor.models import CheckBlock
    from monitor.packing import pack_checks

    now = datetime.now(UTC)
    from_rows = chart_ms(site_id, now)
    cpu, started = time.process_time(), time.perf_counter()
    # Everything: every hour up to the current one is closed by then.
    packed = pack_checks(older_than=now + timedelta(hours=2), time_budget=3600)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - started
    table = CheckBlock._meta.db_table
    count, total, heap, indexes = sizes(table, "VACUUM ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT sum(count), pg_relation_size(reltoastrelid) FROM {table}, pg_class "
            "WHERE relname = %s GROUP BY reltoastrelid",
            [table],
        )
        checks, toast = cursor.fetchone()
    assert checks == packed == n_checks, (checks, packed, n_checks)
    print(
        f"\n{table} (packed), after VACUUM ANALYZE: {checks:,} checks in {count:,} rows "
        f"({checks / count:.1f} checks per row), {total / 2**20:.1f} MiB in all"
    )
    print(f"  {'total':<36} {total / checks:7.1f} bytes per check")
    print(f"  {'heap (rows)':<36} {heap / checks:7.1f}")
    print(f"  {'TOAST (rows over 2 kB)':<36} {toast / checks:7.1f}")
    for name, size in indexes:
        print(f"  {'index ' + name:<36} {size / checks:7.1f}")
    print(
        f"  packing took {wall:.1f} s ({wall / checks * 1e6:.1f} µs per check; "
        f"this process's CPU {cpu / checks * 1e6:.1f} µs per check)"
    )
    print(
        f"  one site's 24-hour chart: {from_rows:.1f} ms from rows, "
        f"{chart_ms(site_id, now):.1f} ms from blocks (median of 5)"
    )


def measure_rollups(rows: list[tuple]) -> None:
    from django.db import transaction

    from monitor.history import add_to_rollups

    timings = []
    for first in range(0, len(rows), RECORDER_BATCH):
        batch = [(r[0], r[1], r[2], r[4]) for r in rows[first : first + RECORDER_BATCH]]
        started = time.perf_counter()
        with transaction.atomic():
            add_to_rollups(batch)
        timings.append(time.perf_counter() - started)
    timings.sort()
    print(
        f"\nadd_to_rollups, {len(timings)} batches of {RECORDER_BATCH} checks: "
        f"median {timings[len(timings) // 2] * 1000:.1f} ms, "
        f"max {timings[-1] * 1000:.1f} ms per batch (including commit)"
    )


def main() -> None:
    args = parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        sys.exit("Set DATABASE_URL to a PostgreSQL database (postgres://…).")
    # CREATE/DROP DATABASE from the server's maintenance database: the one
    # DATABASE_URL names need not exist.
    admin_dsn = server_dsn(url, "postgres")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db}"')
        conn.execute(f'CREATE DATABASE "{args.db}"')
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            setup_django(scratch_url(url, args.db), data_dir)
            from monitor.models import Check, CheckRollup

            print(f"loading {args.sites:,} sites and {args.checks:,} checks into {args.db} …")
            rows = load(args.sites, args.checks)
            check_columns = [f.column for f in Check._meta.concrete_fields]
            report("monitor_check", Check._meta.db_table, check_columns, "check")
            # Many sites' checks arriving interleaved leave the key's leaf
            # pages about 70 % full (each split halves a page); rebuilt, as
            # migration 0016 builds it or a REINDEX does, they are full.
            report("monitor_check", Check._meta.db_table, check_columns, "check", "REINDEX TABLE")
            measure_packing(len(rows), rows[0][0])
            measure_rollups(rows)
            rollup_columns = [f.column for f in CheckRollup._meta.concrete_fields]
            table = CheckRollup._meta.db_table
            # Every batch updated each site's hour and day rows: the heap is
            # full of dead versions a burst leaves behind; FULL shows live size.
            report("monitor_checkrollup", table, rollup_columns, "rollup")
            report("monitor_checkrollup", table, rollup_columns, "rollup", "VACUUM FULL ANALYZE")

            from django.db import connections

            connections.close_all()
    finally:
        if not args.keep:
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
