"""Benchmark GET /metrics with many monitors: how long a Prometheus scrape takes.

Loads one user's project with N monitors (default 10,000; a third with two
transitions in the last 24 hours, one in ten paused, a maintenance window
over some), a staff token, some checks and pending notifications, then times
GET /metrics through Django's whole request stack in this process (token
lookup, middleware, the collectors, the text format). Prints p50 and max,
the body size, the series count and the number of queries, and the share
taken by the 24-hour uptime ratios. A figure, not a test: nothing asserts.

    .venv/bin/python bench/metrics.py                      # SQLite in a scratch folder
    .venv/bin/python bench/metrics.py --postgres           # PostgreSQL: database uptime_badges
    .venv/bin/python bench/metrics.py --sites 1000 --runs 3

PostgreSQL on 127.0.0.1:5432 as postgres (createdb/dropdb on the PATH); the
database is dropped and made afresh. Only loopback is used.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5, help="timed scrapes")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--db", default="uptime_badges", help="PostgreSQL database (recreated)")
    return parser.parse_args()


def setup(args: argparse.Namespace, data_dir: str) -> None:
    os.environ["UPTIME_DATA_DIR"] = data_dir
    os.environ["UPTIME_ENV_FILE"] = ""
    os.environ.setdefault("SECRET_KEY", "metrics-bench-only")
    os.environ["UPTIME_ALLOW_PRIVATE_TARGETS"] = "1"
    if args.postgres:
        for command in ("dropdb", "createdb"):
            extra = ["--if-exists"] if command == "dropdb" else []
            subprocess.run(
                [command, "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], *extra, args.db],
                check=True,
            )
        os.environ["DATABASE_URL"] = f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{args.db}"
    else:
        os.environ.pop("DATABASE_URL", None)
    (Path(data_dir) / "static").mkdir(exist_ok=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "uptime.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def load(n_sites: int) -> str:
    """The data; returns the staff user's API key."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from monitor.models import Check, MaintenanceWindow, Transition
    from notifications.models import Channel, Notification
    from sites.models import Site
    from teams.services import personal_project_ensure
    from teams.tokens import token_create

    now = timezone.now()
    user = get_user_model().objects.create_user(
        username="bench", password="bench-password-not-secret", is_staff=True
    )
    project = personal_project_ensure(user=user)
    statuses = ["up"] * 17 + ["down", "degraded", "unknown"]
    Site.objects.bulk_create(
        [
            Site(
                project=project,
                url=f"https://site-{n:05d}.example.invalid/health",
                name=f"Service {n:05d}" if n % 2 else "",
                status=statuses[n % len(statuses)],
                enabled=n % 10 != 0,
                created_at=now - timedelta(days=30),
                status_changed_at=now - timedelta(days=30),
                last_checked_at=now - timedelta(seconds=n % 60),
                next_check_at=now + timedelta(seconds=n % 60 - 2),
                last_response_ms=20 + n % 400,
                cert_expires_at=now + timedelta(days=n % 90),
            )
            for n in range(n_sites)
        ],
        batch_size=2000,
    )
    ids = list(Site.objects.order_by("id").values_list("id", flat=True))
    transitions = []
    for index, site_id in enumerate(ids[::3]):
        down_at = now - timedelta(hours=1 + index % 20)
        transitions += [
            Transition(site_id=site_id, from_status="up", to_status="down", created_at=down_at,
                       notification_status="sent"),
            Transition(site_id=site_id, from_status="down", to_status="up",
                       created_at=down_at + timedelta(minutes=5), notification_status="sent"),
        ]  # fmt: skip
    Transition.objects.bulk_create(transitions, batch_size=5000)
    Check.objects.bulk_create(
        [Check(site_id=site_id, up=True, response_ms=50, checked_at=now) for site_id in ids],
        batch_size=5000,
    )
    window = MaintenanceWindow.objects.create(
        project=project,
        title="Bench",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )
    window.sites.set(ids[:100])
    channel = Channel.objects.create(project=project, kind="webhook", name="bench")
    Notification.objects.bulk_create(
        [Notification(channel=channel, event="down", key=f"k{n}") for n in range(50)]
    )
    _, key = token_create(user=user, name="bench")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would after such a load
    return key


def bench(key: str, runs: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from monitor import metrics
    from sites.models import Site

    client = Client(HTTP_HOST="127.0.0.1")
    header = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    client.get("/metrics", **header)  # warm-up: imports, connections, caches
    times, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get("/metrics", **header)
        times.append(time.perf_counter() - started)
        size = len(response.content)
        assert response.status_code == 200, response.content[:200]
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/metrics", **header).content.decode()
    series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
    ids = list(Site.objects.values_list("id", flat=True))
    started = time.perf_counter()
    metrics._uptime_24h(ids, timezone.now())
    uptime_seconds = time.perf_counter() - started

    print(f"  GET /metrics, {len(ids):,} monitors, {runs} scrapes:")
    print(f"    p50 {statistics.median(times) * 1000:8.0f} ms   max {max(times) * 1000:8.0f} ms")
    print(f"    body {size / 1024:,.0f} KiB, {series:,} series, {len(queries)} queries")
    print(f"    of which the 24 h uptime ratios: {uptime_seconds * 1000:.0f} ms")


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="uptime-metrics-bench-") as data_dir:
        setup(args, data_dir)
        from django.db import connection

        print(f"metrics bench on {connection.vendor}")
        started = time.perf_counter()
        key = load(args.sites)
        print(f"  loaded in {time.perf_counter() - started:.1f} s")
        bench(key, args.runs)
    if args.postgres:
        from django.db import connections

        connections.close_all()
        subprocess.run(
            ["dropdb", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], args.db], check=True
        )


if __name__ == "__main__":
    main()
