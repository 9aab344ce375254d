"""Time deleting a site with a month of 10-second checks, on PostgreSQL.

Creates a scratch database (DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/uptime_bench_delete), migrates it, and
loads --sites sites, each with --checks checks (259,200: a month at one
every 10 s) interleaved in time order as the recorder writes them, a
transition with a delivery attempt for each failed check, and the rollups.
Then it deletes one site with sites.services.site_delete and another, just
like it, with Django's Python-side cascade (what site_delete did before:
site.delete() with the foreign keys' on_delete set back to CASCADE), each
in a fresh process, and prints the seconds, the queries sent and the
process's peak RSS. Drops the database at the end (unless --keep).

    .venv/bin/python bench/delete_site.py
    .venv/bin/python bench/delete_site.py --checks 20000      # a quick one
    .venv/bin/python bench/delete_site.py --skip-django       # site_delete only

Needs PostgreSQL on 127.0.0.1 with trust auth for user postgres. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dj_database_url
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, fmt_bytes, peak_rss_bytes, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/uptime_bench_delete"
MONTH_AT_10_S = 30 * 24 * 360
FAIL_EVERY = 997  # one failed check in ~1,000: ~260 transitions per site

# Interleaved: every site's n-th check, then every site's (n+1)-th, as the
# recorder writes them, so a site's rows are spread over the whole table.
_CHECKS_SQL = """
INSERT INTO monitor_check
    (site_id, checked_at, up, status_code, response_ms, error_kind, error_message)
SELECT s.id, %(start)s + n * interval '10 seconds', n %% %(fail)s <> 0,
       CASE WHEN n %% %(fail)s <> 0 THEN 200 ELSE 503 END,
       40 + (n * 7919 + s.id * 104729) %% 400,
       CASE WHEN n %% %(fail)s <> 0 THEN '' ELSE 'http_status' END,
       CASE WHEN n %% %(fail)s <> 0 THEN '' ELSE 'HTTP 503' END
FROM generate_series(0, %(checks)s - 1) AS n CROSS JOIN unnest(%(sites)s::bigint[]) AS s(id)
ORDER BY n, s.id
"""
_TRANSITIONS_SQL = """
INSERT INTO monitor_transition
    (site_id, checked_at, status_code, response_ms, error_kind, error_message,
     from_status, to_status, created_at, notification_status, notified_at, notify_attempts,
     locations, regional)
SELECT site_id, checked_at, status_code, response_ms, error_kind, error_message,
       'up', 'down', checked_at, 'sent', checked_at, 1, '', false
FROM monitor_check WHERE NOT up ORDER BY checked_at, site_id
"""
_ATTEMPTS_SQL = """
INSERT INTO notifications_notificationattempt
    (transition_id, channel, attempted_at, outcome, status_code, error, duration_ms)
SELECT id, 'slack', created_at, 'delivered', 200, '', 120 FROM monitor_transition
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=6, help="sites loaded (two are deleted)")
    parser.add_argument("--checks", type=int, default=MONTH_AT_10_S, help="checks per site")
    parser.add_argument("--skip-django", action="store_true", help="do not time the old cascade")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--measure", choices=["site_delete", "django"], help=argparse.SUPPRESS)
    parser.add_argument("--site-id", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sites < 2 or args.checks < 1:
        parser.error("--sites must be at least 2 and --checks at least 1")
    return args


def admin_dsn(url: str) -> tuple[str, str]:
    """(a DSN for the server's maintenance database, the scratch database's name)."""
    config = dj_database_url.parse(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("DATABASE_URL must point at PostgreSQL (postgres://…).")
    parts = {
        "host": config.get("HOST") or "127.0.0.1",
        "port": config.get("PORT") or 5432,
        "user": config.get("USER") or "postgres",
        "password": config.get("PASSWORD") or "",
        "dbname": "postgres",
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v != ""), config["NAME"]


# --- loading ----------------------------------------------------------------------


def load(n_sites: int, n_checks: int) -> list[int]:
    """Migrate and load; return the site ids."""
    from django.core.management import call_command
    from django.db import connection

    from monitor.history import add_to_rollups
    from sites.models import Site
    from teams.models import Project

    call_command("migrate", verbosity=0, interactive=False)
    project = Project.objects.create(name="delete a site")
    Site.objects.bulk_create(
        Site(project=project, url=f"https://site-{n:03d}.example.invalid/", name=f"Site {n}")
        for n in range(n_sites)
    )
    site_ids = list(Site.objects.order_by("id").values_list("id", flat=True))
    start = datetime.now(UTC) - timedelta(seconds=10 * n_checks)
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            _CHECKS_SQL,
            {"start": start, "fail": FAIL_EVERY, "checks": n_checks, "sites": site_ids},
        )
        cursor.execute(_TRANSITIONS_SQL)
        cursor.execute(_ATTEMPTS_SQL)
        print(f"  checks, transitions, attempts: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        rows = "SELECT site_id, checked_at, up, response_ms FROM monitor_check WHERE site_id = %s"
        for site_id in site_ids:
            cursor.execute(rows, [site_id])
            add_to_rollups(cursor.fetchall())
        print(f"  rollups: {time.perf_counter() - started:.1f} s")
        for table in ("monitor_check", "monitor_transition", "monitor_checkrollup"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return site_ids


def counts(site_id: int) -> dict[str, int]:
    from django.db import connection

    sql = {
        "checks": "SELECT count(*) FROM monitor_check WHERE site_id = %s",
        "transitions": "SELECT count(*) FROM monitor_transition WHERE site_id = %s",
        "attempts": "SELECT count(*) FROM notifications_notificationattempt a "
        "JOIN monitor_transition t ON t.id = a.transition_id WHERE t.site_id = %s",
        "rollups": "SELECT count(*) FROM monitor_checkrollup WHERE site_id = %s",
    }
    with connection.cursor() as cursor:
        found = {}
        for name, query in sql.items():
            cursor.execute(query, [site_id])
            found[name] = cursor.fetchone()[0]
    return found


# --- measuring (each in its own process, so peak RSS is its own) -----------------


def measure(how: str, site_id: int) -> None:
    """Delete one site one way; print one JSON line of figures."""
    from django.db import connection, models

    from monitor.models import Check, CheckRollup, Transition
    from sites.models import Site
    from sites.services import site_delete

    site = Site.objects.get(pk=site_id)
    if how == "django":
        # site_delete before: Django's collector, with the cascade in Python.
        for model in (Check, Transition, CheckRollup):
            model._meta.get_field("site").remote_field.on_delete = models.CASCADE
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    rss_before = peak_rss_bytes(os.getpid())
    with connection.execute_wrapper(count):
        started = time.perf_counter()
        site.delete() if how == "django" else site_delete(site=site)
        seconds = time.perf_counter() - started
    figures = {
        "seconds": seconds,
        "queries": queries,
        "peak_rss": peak_rss_bytes(os.getpid()),
        "rss_before": rss_before,
    }
    print(json.dumps(figures))


def run_measure(how: str, site_id: int, env: dict[str, str]) -> dict:
    argv = [sys.executable, __file__, "--measure", how, "--site-id", str(site_id)]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{how} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    with tempfile.TemporaryDirectory() as data_dir:
        env = {"DATABASE_URL": url, "UPTIME_DATA_DIR": data_dir}
        if args.measure:
            setup_django(**env)
            measure(args.measure, args.site_id)
            return
        dsn, db = admin_dsn(url)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db}"')
        try:
            setup_django(**env)
            print(f"loading {args.sites} sites x {args.checks:,} checks into {db} …")
            site_ids = load(args.sites, args.checks)
            print(f"  one site: {counts(site_ids[0])}")
            from django.db import connections

            connections.close_all()
            child_env = {**os.environ, **env}
            runs = [("site_delete", site_ids[0])]
            if not args.skip_django:
                runs.append(("django", site_ids[1]))
            print(f"\ndeleting a site with {args.checks:,} checks:")
            print(
                f"  {'how':<34} {'seconds':>8} {'queries':>8} {'peak RSS':>11} {'RSS before':>11}"
            )
            for how, site_id in runs:
                f = run_measure(how, site_id, child_env)
                label = "site_delete" if how == "site_delete" else "Django's cascade (the old way)"
                print(
                    f"  {label:<34} {f['seconds']:8.2f} {f['queries']:8,} "
                    f"{fmt_bytes(f['peak_rss']):>11} {fmt_bytes(f['rss_before']):>11}"
                )
                left = counts(site_id)
                if any(left.values()):
                    raise RuntimeError(f"rows left behind by {how}: {left}")
            connections.close_all()
        finally:
            if not args.keep:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
