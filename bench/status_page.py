"""Benchmark a public status page of 200 monitors under 50 concurrent clients.

Creates a scratch PostgreSQL database, migrates it, loads 200 sites with 90
days of history (outages as transitions, daily rollups), a page showing all
of them in four groups with incidents and a weekly maintenance window, then
starts gunicorn (DEBUG off) on 127.0.0.1 and:
- times the cold render: the page invalidated (statuspages.cache) before each
  of a few sequential requests (after the second a web process may keep its
  version), so each one renders from the database;
- drives the cached page with ApacheBench (`ab`, compiled C: one process, so
  the two cores are left to the server) at 50 concurrent connections,
  gzip accepted as a browser does, and prints p50/p99/max and requests/s.

    .venv/bin/python bench/status_page.py               # the full run
    .venv/bin/python bench/status_page.py --keep        # keep the data
    .venv/bin/python bench/status_page.py --reuse --keep   # time a kept database again
    CACHE_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/status_page.py

Needs PostgreSQL on 127.0.0.1:5432 (trust auth for postgres) and `ab`
(apt-get install apache2-utils). Only loopback is used.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import process_cpu_seconds, process_tree
from bench.status_read import pg_cli, setup_django, start_server, timed

SLUG = "bench"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="uptime_statuspagebench", help="scratch database name")
    parser.add_argument("--monitors", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20_000, help="requests of the ab run")
    parser.add_argument("--cold", type=int, default=7, help="cold renders timed")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--reuse", action="store_true", help="time a kept database; load nothing")
    return parser.parse_args()


# --- loading --------------------------------------------------------------------


def load(n_monitors: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    with timed("migrate"):
        call_command("migrate", verbosity=0, interactive=False)
    with timed(f"{n_monitors} sites, 90 days of outages and daily rollups"):
        sites = create_sites(n_monitors)
    with timed("the page, its incidents and a maintenance window"):
        create_page(sites)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def create_sites(n: int) -> list:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from monitor.models import CheckRollup, Transition
    from sites.models import Site
    from teams.services import personal_project_ensure

    rng = random.Random(12)
    now = timezone.now()
    user, _ = get_user_model().objects.get_or_create(username="bench")
    project = personal_project_ensure(user=user)
    born = now - timedelta(days=120)
    down_now = set(rng.sample(range(n), 3))
    sites = Site.objects.bulk_create(
        Site(
            project=project,
            url=f"https://service-{i:03d}.example.invalid/health",
            name=f"Service {i:03d}",
            status="down" if i in down_now else "up",
            created_at=born,
            status_changed_at=born,
            last_checked_at=now,
            last_response_ms=40 + i,
        )
        for i in range(n)
    )
    transitions, rollups = [], []
    for index, site in enumerate(sites):
        for _ in range(rng.randint(0, 8)):  # outages of 1 to 90 minutes
            start = now - timedelta(minutes=rng.randint(100, 90 * 24 * 60))
            end = start + timedelta(minutes=rng.randint(1, 90))
            transitions.append(
                Transition(
                    site=site,
                    from_status="up",
                    to_status="down",
                    created_at=start,
                    notification_status="sent",
                )
            )
            transitions.append(
                Transition(
                    site=site,
                    from_status="down",
                    to_status="up",
                    created_at=end,
                    notification_status="sent",
                )
            )
        if index in down_now:
            transitions.append(
                Transition(
                    site=site,
                    from_status="up",
                    to_status="down",
                    created_at=now - timedelta(minutes=5),
                    notification_status="sent",
                )
            )
        for day in range(90):
            rollups.append(
                CheckRollup(
                    site=site,
                    period=24,
                    checks=1440,
                    failures=rng.randint(0, 3),
                    rt_sum=1440 * 80,
                    rt_count=1440,
                    rt_min=20,
                    rt_max=900,
                    bucket_start=(now - timedelta(days=day)).replace(
                        hour=0, minute=0, second=0, microsecond=0
                    ),
                )
            )
    Transition.objects.bulk_create(transitions, batch_size=5_000)
    CheckRollup.objects.bulk_create(rollups, batch_size=5_000)
    return sites


def create_page(sites: list) -> None:
    from django.utils import timezone

    from monitor.models import MaintenanceWindow
    from statuspages.models import (
        StatusIncident,
        StatusIncidentUpdate,
        StatusPage,
        StatusPageGroup,
        StatusPageMonitor,
    )

    now = timezone.now()
    project = sites[0].project
    page = StatusPage.objects.create(
        project=project, slug=SLUG, title="Bench status", description="200 services."
    )
    groups = [
        StatusPageGroup.objects.create(page=page, name=f"Region {i + 1}", position=i)
        for i in range(4)
    ]
    StatusPageMonitor.objects.bulk_create(
        StatusPageMonitor(page=page, group=groups[i % 4], site=site, position=i)
        for i, site in enumerate(sites)
    )
    for days_ago in (0, 2, 5, 9, 12):
        incident = StatusIncident.objects.create(
            page=page,
            title=f"Incident {days_ago} days ago",
            created_at=now - timedelta(days=days_ago, hours=2),
            resolved_at=None if days_ago == 0 else now - timedelta(days=days_ago),
        )
        incident.sites.add(*sites[days_ago : days_ago + 3])
        for step, status in enumerate(("investigating", "identified", "resolved")):
            StatusIncidentUpdate.objects.create(
                incident=incident,
                status=status,
                message=f"{status.capitalize()}: details of step {step + 1}.",
                created_at=now - timedelta(days=days_ago, hours=2 - step),
            )
    window = MaintenanceWindow.objects.create(
        project=project,
        title="Weekly database maintenance",
        starts_at=now - timedelta(days=60),
        ends_at=now - timedelta(days=60) + timedelta(hours=1),
        rrule="FREQ=WEEKLY",
    )
    window.sites.add(*sites[:20])
    from statuspages.cache import invalidate_pages

    invalidate_pages([page.pk])  # a kept cache (Redis) may know the slug from an earlier run


# --- timing ---------------------------------------------------------------------


def cold_renders(base: str, n: int) -> list[float]:
    from statuspages.cache import LOCAL_VERSION_TTL, invalidate_pages
    from statuspages.models import StatusPage

    page_id = StatusPage.objects.get(slug=SLUG).pk
    times = []
    for _ in range(n):
        invalidate_pages([page_id])
        # Each web process trusts the version it read for this long.
        time.sleep(LOCAL_VERSION_TTL + 0.2)
        start = time.perf_counter()
        requests.get(f"{base}/status/{SLUG}", timeout=60).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return times


def run_ab(url: str, n: int, concurrency: int) -> dict:
    command = ["ab", "-q", "-n", str(n), "-c", str(concurrency), "-H", "Accept-Encoding: gzip", url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    percent = dict(re.findall(r"^\s+(\d+)%\s+(\d+)", output, re.M))
    return {
        "rps": float(re.search(r"Requests per second:\s+([\d.]+)", output).group(1)),
        "failed": int(re.search(r"Failed requests:\s+(\d+)", output).group(1)),
        "non2xx": int((re.search(r"Non-2xx responses:\s+(\d+)", output) or [0, 0])[1]),
        "bytes": int(re.search(r"Document Length:\s+(\d+)", output).group(1)),
        "p50": int(percent["50"]),
        "p99": int(percent["99"]),
        "max": int(percent["100"]),
    }


def server_cpu(server: subprocess.Popen) -> float:
    """CPU seconds used so far by gunicorn and its workers."""
    return sum(process_cpu_seconds(pid) for pid in process_tree(server.pid))


def time_page(args: argparse.Namespace) -> None:
    server, base = start_server(args.workers)
    try:
        url = f"{base}/status/{SLUG}"
        plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=60)
        plain.raise_for_status()
        cold = cold_renders(base, args.cold)
        print(
            f"cold render (invalidated, then one GET; {args.cold} runs): "
            f"median {statistics.median(cold):.0f} ms, max {max(cold):.0f} ms; "
            f"page {len(plain.content):,} B"
        )
        requests.get(url, timeout=60).raise_for_status()  # warm again
        run_ab(url, 2_000, args.concurrency)  # warm-up
        for label, path in (("HTML", ""), ("JSON", ".json")):
            load = os.getloadavg()[0]
            cpu = server_cpu(server)
            figures = run_ab(url + path, args.requests, args.concurrency)
            cpu_ms = (server_cpu(server) - cpu) * 1000 / args.requests
            print(
                f"cached {label}: ab -c {args.concurrency} -n {args.requests}, gzip accepted, "
                f"gunicorn --workers {args.workers}: {figures['rps']:.0f} req/s, "
                f"p50 {figures['p50']} ms, p99 {figures['p99']} ms, max {figures['max']} ms, "
                f"{figures['bytes']:,} B a response, failed {figures['failed']}, "
                f"non-2xx {figures['non2xx']}; server CPU {cpu_ms:.2f} ms a request; "
                f"machine load average {load:.1f} before the run (2 cores)"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    args = parse_args()
    if shutil.which("ab") is None:
        sys.exit("bench/status_page.py needs ApacheBench: apt-get install apache2-utils")
    cache_url = os.environ.get("CACHE_URL", "")
    with tempfile.TemporaryDirectory(prefix="uptime-statuspagebench-") as data_dir:
        print(f"database {args.db}; cache: {cache_url or 'the database (uptime_cache)'}")
        if not args.reuse:
            pg_cli("dropdb", args.db, "--if-exists")
            pg_cli("createdb", args.db)
        setup_django(args.db, data_dir)
        try:
            if not args.reuse:
                load(args.monitors)
            time_page(args)
        finally:
            from django.db import connections

            connections.close_all()
            if not args.keep:
                pg_cli("dropdb", args.db, "--if-exists")
                print(f"dropped {args.db}")


if __name__ == "__main__":
    main()
