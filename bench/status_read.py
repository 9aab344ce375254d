"""Benchmark the status read at scale: GET /api/status and the dashboard.

Creates a scratch PostgreSQL database, migrates it, loads 10,000 sites and
10,000,000 checks (generated server-side with generate_series), sets each
site's state columns from its latest check as the recorder would, adds what
the dashboard reads per page (24 hourly rollups per checked site, up/down
transitions within the last 24 hours for one site in ten and for every down
one, 25 tags on the sites), ANALYZEs, then times each route through a real
gunicorn (DEBUG off) on 127.0.0.1 with an HTTP client, after a warm-up.
Prints p50/p99/max and response sizes, then drops the database (unless --keep).

    .venv/bin/python bench/status_read.py                 # the full run
    .venv/bin/python bench/status_read.py --keep          # keep the data
    .venv/bin/python bench/status_read.py --reuse         # time a kept database again
    .venv/bin/python bench/status_read.py --sites 1000 --checks 100000   # a quick one

Needs PostgreSQL on 127.0.0.1:5432 with trust auth for user postgres
(createdb/dropdb on the PATH). Only loopback is used.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
USERNAME, PASSWORD = "bench", "bench-password-not-secret"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="uptime_statusbench", help="scratch database name")
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per route")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per route")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument(
        "--reuse", action="store_true", help="time an existing database (from --keep); load nothing"
    )
    return parser.parse_args()


def pg_cli(command: str, db: str, *extra: str) -> None:
    args = [command, "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], *extra, db]
    subprocess.run(args, check=True)


def setup_django(db: str, data_dir: str) -> None:
    os.environ["DATABASE_URL"] = f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{db}"
    os.environ["UPTIME_DATA_DIR"] = data_dir
    (Path(data_dir) / "static").mkdir()  # whitenoise warns without it
    os.environ.setdefault("SECRET_KEY", "status-bench-only")
    os.environ["DJANGO_SETTINGS_MODULE"] = "uptime.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def timed(label: str):
    class Timer:
        def __enter__(self):
            self.start = time.perf_counter()
            print(f"  {label} …", end="", flush=True)

        def __exit__(self, *exc):
            print(f" {time.perf_counter() - self.start:.1f} s", flush=True)

    return Timer()


# --- loading --------------------------------------------------------------------


def load(db: str, n_sites: int, n_checks: int) -> None:
    from django.core.management import call_command

    with timed("migrate"):
        call_command("migrate", verbosity=0, interactive=False)
    with timed(f"{n_sites:,} sites"):
        checked_ids = create_sites(n_sites)
    with timed(f"{n_checks:,} checks"):
        create_checks(db, checked_ids, n_checks)
    with timed("site state from each site's latest check"):
        set_site_state()
    with timed("hourly rollups, transitions and tags for the dashboard"):
        create_dashboard_history()
    with timed("VACUUM ANALYZE"):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def create_sites(n_sites: int) -> range:
    """Sites 1..n; one in 200 is never checked (unknown), one in 100 paused."""
    from datetime import timedelta

    from django.utils import timezone

    from sites.models import Site

    never_checked = n_sites // 200
    n_checked = n_sites - never_checked
    created = timezone.now() - timedelta(days=30)
    project = bench_user().personal_project
    sites = [
        Site(
            project=project,
            url=f"https://site-{n:05d}.example.com/health",
            name=f"Service {n:05d}" if n % 2 else "",
            interval=60,
            timeout=10,
            enabled=n % 100 != 0,
            created_at=created,
        )
        for n in range(1, n_sites + 1)
    ]
    # The checked sites come first so their ids are one contiguous range.
    Site.objects.bulk_create(sites, batch_size=2_000)
    ids = list(Site.objects.order_by("id").values_list("id", flat=True))
    assert ids == list(range(ids[0], ids[0] + n_sites)), "site ids are not contiguous"
    return range(ids[0], ids[0] + n_checked)


def create_checks(db: str, site_ids: range, n_checks: int) -> None:
    """n_checks rows, one a minute per site going back in time, in parallel halves.

    Check g belongs to site first + g % n and is (g // n) minutes old. One site
    in 40 has failed its last five checks (down); the rest fail now and then.
    Indexes are dropped during the load and built again after it, and the
    foreign-key trigger is skipped (session_replication_role), as a restore does.
    """
    from django.db import connection

    from monitor.models import Check

    table = Check._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [table],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')

    first, n = site_ids.start, len(site_ids)
    down = "((site % 40 = 0 AND age < 5) OR (site + age * 7) % 97 = 0)"
    insert = f"""
        INSERT INTO {table}
            (site_id, checked_at, up, status_code, response_ms, error_kind, error_message)
        SELECT site, now() - age * interval '1 minute',
               NOT {down},
               CASE WHEN NOT {down} THEN 200 WHEN site % 3 = 0 THEN NULL ELSE 503 END,
               CASE WHEN site % 3 = 0 AND {down} THEN NULL
                    ELSE 20 + (site * 31 + age * 17) % 400 END,
               CASE WHEN NOT {down} THEN '' WHEN site % 3 = 0 THEN 'connect' ELSE 'http_status' END,
               CASE WHEN NOT {down} THEN ''
                    WHEN site % 3 = 0 THEN 'Connection refused by 203.0.113.' || site % 250
                    ELSE 'HTTP 503 Service Unavailable' END
        FROM (SELECT {first} + g % {n} AS site, g / {n} AS age
              FROM generate_series({{lo}}::bigint, {{hi}}::bigint) AS g) AS rows
    """
    dsn = f"host={PG['host']} port={PG['port']} user={PG['user']} dbname={db}"

    def run(sql: str) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute("SET synchronous_commit = off")
            conn.execute("SET maintenance_work_mem = '256MB'")
            conn.execute(sql)

    parts = max(1, os.cpu_count() or 1)
    step = math.ceil(n_checks / parts)
    spans = [(lo, min(lo + step, n_checks) - 1) for lo in range(0, n_checks, step)]
    parallel([insert.format(lo=lo, hi=hi) for lo, hi in spans], runner=run)
    parallel([definition for _, definition in indexes], runner=run)


def parallel(statements: list[str], runner) -> None:
    """Run each statement on its own connection, at the same time."""
    errors: list[psycopg.Error] = []

    def target(sql: str) -> None:
        try:
            runner(sql)
        except psycopg.Error as exc:  # re-raised below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(sql,)) for sql in statements]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def set_site_state() -> None:
    """What monitor.recording leaves on each site row after its latest check."""
    from django.db import connection

    from monitor.models import Check
    from sites.models import Site

    sites, checks = Site._meta.db_table, Check._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"""
            UPDATE {sites} AS s SET
                status = CASE WHEN last.up THEN 'up' ELSE 'down' END,
                last_checked_at = last.checked_at,
                next_check_at = last.checked_at + s.interval * interval '1 second',
                status_changed_at = COALESCE(
                    (SELECT min(c.checked_at) FROM {checks} AS c
                     WHERE c.site_id = s.id
                       AND c.checked_at > COALESCE(flip.checked_at, '-infinity')),
                    last.checked_at),
                last_status_code = last.status_code,
                last_response_ms = last.response_ms,
                last_error_kind = last.error_kind,
                last_error_message = last.error_message
            FROM {sites} AS s2
            CROSS JOIN LATERAL (
                SELECT * FROM {checks} AS c WHERE c.site_id = s2.id
                ORDER BY c.checked_at DESC LIMIT 1
            ) AS last
            LEFT JOIN LATERAL (
                SELECT c.checked_at FROM {checks} AS c
                WHERE c.site_id = s2.id AND c.up <> last.up
                ORDER BY c.checked_at DESC LIMIT 1
            ) AS flip ON true
            WHERE s.id = s2.id
        """)


N_TAGS = 25


def create_dashboard_history() -> None:
    """What the dashboard's page figures read: rollups, recent transitions, tags.

    Rollups: the last 24 hours of each checked site (an average from 20 to
    420 ms, varying by hour). Transitions: one site in ten went down and came
    back within the last day; each site that is down now went down when its
    status changed. Tags: each site has one of N_TAGS, one in three a second.
    """
    from django.db import connection

    from monitor.models import HISTOGRAM_COLUMNS, CheckRollup, Transition
    from sites.models import Site, Tag

    sites, rollups = Site._meta.db_table, CheckRollup._meta.db_table
    transitions, site_tags = Transition._meta.db_table, Site.tags.through._meta.db_table
    histogram = ", ".join(HISTOGRAM_COLUMNS)
    zeros = ", ".join("0" for _ in HISTOGRAM_COLUMNS)
    project = bench_user().personal_project
    Tag.objects.bulk_create(
        Tag(project=project, name=f"team-{n:02d}", color="#2563eb") for n in range(N_TAGS)
    )
    tag_ids = list(Tag.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    first_tag = tag_ids[0]
    assert tag_ids == list(range(first_tag, first_tag + N_TAGS)), "tag ids are not contiguous"
    with connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO {rollups} (site_id, bucket_start, period, checks, failures,
                                   rt_count, rt_sum, rt_min, rt_max, {histogram})
            SELECT s.id, date_trunc('hour', now()) - h * interval '1 hour', 1, 60,
                   CASE WHEN (s.id + h) % 97 = 0 THEN 3 ELSE 0 END,
                   60, 60 * (20 + (s.id * 31 + h * 17) % 400),
                   10 + (s.id * 31 + h * 17) % 400 / 2, 40 + (s.id * 31 + h * 17) % 400 * 2,
                   {zeros}
            FROM {sites} AS s CROSS JOIN generate_series(0, 23) AS h
            WHERE s.last_checked_at IS NOT NULL
        """)
        columns = "(site_id, from_status, to_status, created_at, notification_status, "
        columns += "notify_attempts, locations, regional, error_kind, error_message)"
        cursor.execute(f"""
            INSERT INTO {transitions} {columns}
            SELECT s.id, 'up', 'down', now() - (30 + s.id * 7 % 1380) * interval '1 minute',
                   'sent', 1, '', false, '', ''
            FROM {sites} AS s WHERE s.id % 10 = 0 AND s.last_checked_at IS NOT NULL
            UNION ALL
            SELECT s.id, 'down', 'up',
                   now() - (30 + s.id * 7 % 1380 - 2 - s.id % 20) * interval '1 minute', 'sent', 1,
                   '', false, '', ''
            FROM {sites} AS s WHERE s.id % 10 = 0 AND s.last_checked_at IS NOT NULL
            UNION ALL
            SELECT s.id, 'up', 'down', s.status_changed_at, 'sent', 1, '', false, '', ''
            FROM {sites} AS s WHERE s.status = 'down'
        """)
        cursor.execute(f"""
            INSERT INTO {site_tags} (site_id, tag_id)
            SELECT s.id, {first_tag} + s.id % {N_TAGS} FROM {sites} AS s
            UNION ALL
            SELECT s.id, {first_tag} + (s.id / 3 + 1) % {N_TAGS} FROM {sites} AS s
            WHERE s.id % 3 = 0 AND (s.id / 3 + 1) % {N_TAGS} <> s.id % {N_TAGS}
        """)


def bench_user():
    """The account that owns the sites (its personal project) and reads them."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    return user


def make_credentials() -> str:
    from teams.tokens import token_create

    user = bench_user()
    user.set_password(PASSWORD)
    user.save()
    _, key = token_create(user=user, name="status read benchmark")
    return key


# --- timing ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DEBUG": "0", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "uptime.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return server, base
        except requests.RequestException:
            time.sleep(0.2)
    server.terminate()
    server.wait(timeout=10)
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def logged_in_session(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/login")
    response = session.post(
        f"{base}/login",
        data={
            "login": USERNAME,  # django-allauth's field: a username or an email
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        allow_redirects=False,
    )
    assert response.status_code == 302, f"login failed: {response.status_code}"
    return session


def measure(session: requests.Session, url: str, n: int, warmup: int, **kwargs) -> dict:
    for _ in range(warmup):
        session.get(url, **kwargs).raise_for_status()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = session.get(url, **kwargs)
        body = response.content
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    times.sort()
    return {
        "p50": times[math.ceil(0.50 * n) - 1],
        "p99": times[math.ceil(0.99 * n) - 1],
        "max": times[-1],
        "wire": int(response.headers.get("Content-Length") or len(body)),
        "body": len(body),
        "encoding": response.headers.get("Content-Encoding", "identity"),
    }


def report(label: str, figures: dict) -> None:
    print(
        f"  {label:<44} p50 {figures['p50']:6.1f} ms  p99 {figures['p99']:6.1f} ms  "
        f"max {figures['max']:6.1f} ms  {figures['wire']:>9,} B on the wire "
        f"({figures['encoding']}, {figures['body']:,} B)"
    )


def time_routes(token: str, args: argparse.Namespace) -> None:
    server, base = start_server(args.workers)
    try:
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        dashboard = logged_in_session(base)
        n_sites = len(api.get(f"{base}/api/status").json()["sites"])
        print(
            f"timing {args.requests} requests per route after {args.warmup} warm-up, "
            f"{n_sites:,} sites, gunicorn --workers {args.workers}, DEBUG off:"
        )
        runs = [
            ("GET /api/status (gzip accepted)", api, "/api/status", {}),
            (
                "GET /api/status (identity)",
                api,
                "/api/status",
                {"headers": {"Accept-Encoding": "identity"}},
            ),
            ("GET / dashboard, first page", dashboard, "/", {}),
            (
                "GET /sites/list htmx refresh, first page",
                dashboard,
                "/sites/list",
                {"headers": {"HX-Request": "true"}},
            ),
            ("GET /?page=50 dashboard, a middle page", dashboard, "/?page=50", {}),
            ("GET /?q=service 0042 search", dashboard, "/?q=service+0042", {}),
            ("GET /?state=down filter", dashboard, "/?state=down", {}),
            ("GET /?tag=team-07 filter", dashboard, "/?tag=team-07", {}),
            ("GET /?sort=name", dashboard, "/?sort=name", {}),
            ("GET /?sort=response", dashboard, "/?sort=response", {}),
            ("GET /?sort=checked", dashboard, "/?sort=checked", {}),
            ("GET /?group=tag grouped by tag", dashboard, "/?group=tag", {}),
            (
                "GET /sites/list?group=tag&page=20 htmx",
                dashboard,
                "/sites/list?group=tag&page=20",
                {"headers": {"HX-Request": "true"}},
            ),
        ]
        for label, session, path, kwargs in runs:
            report(label, measure(session, base + path, args.requests, args.warmup, **kwargs))
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="uptime-statusbench-") as data_dir:
        if not args.reuse:
            print(f"database {args.db} on {PG['host']}:")
            pg_cli("dropdb", args.db, "--if-exists")
            pg_cli("createdb", args.db)
        setup_django(args.db, data_dir)
        try:
            if not args.reuse:
                load(args.db, args.sites, args.checks)
            token = make_credentials()
            time_routes(token, args)
        finally:
            from django.db import connections

            connections.close_all()
            if not args.keep:
                pg_cli("dropdb", args.db, "--if-exists")
                print(f"dropped {args.db}")


if __name__ == "__main__":
    main()
