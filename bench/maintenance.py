"""Benchmark monitor.maintenance.in_maintenance for a batch of 500 sites.

The alert policy asks it once per batch of transitions. Loads one project
with 500 sites and 20 windows (10 weekly for the whole project, 10 daily
for 50 chosen sites each, all started years ago), then times calls at
moments inside and outside the windows. Prints the median and p99 per call
and the queries per call.

    .venv/bin/python bench/maintenance.py                       # SQLite, a scratch file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/uptime_bench \
        .venv/bin/python bench/maintenance.py

With PostgreSQL the database test_<name> is made and dropped, as the tests do.
"""

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

SITES = 500
CALLS = 400


def load():
    from monitor.maintenance import maintenance_create
    from sites.models import Site
    from tests.factories import alice_project

    project = alice_project()
    Site.objects.bulk_create(
        Site(project=project, url=f"http://127.0.0.1:9/{n}") for n in range(SITES)
    )
    sites = list(Site.objects.filter(project=project).order_by("pk"))
    start = datetime(2019, 1, 6, 2, 0, tzinfo=UTC)
    for n in range(10):
        maintenance_create(
            project=project,
            title=f"weekly {n}",
            starts_at=start + timedelta(days=n % 7, hours=n),
            ends_at=start + timedelta(days=n % 7, hours=n + 1),
            rrule="FREQ=WEEKLY",
            timezone="Europe/Berlin",
        )
        maintenance_create(
            project=project,
            title=f"daily {n}",
            starts_at=start + timedelta(hours=n * 2),
            ends_at=start + timedelta(hours=n * 2, minutes=30),
            rrule="FREQ=DAILY",
            timezone="America/New_York",
            sites=sites[n * 50 : (n + 1) * 50],
        )
    return [site.pk for site in sites]


def main() -> None:
    from monitor.maintenance import in_maintenance

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        ids = load()
        base = datetime(2026, 7, 5, 0, 0, tzinfo=UTC)
        moments = [base + timedelta(minutes=17 * n) for n in range(CALLS)]
        covered = []
        times = []
        with CaptureQueriesContext(connection) as queries:
            for at in moments:
                began = time.perf_counter()
                covered.append(len(in_maintenance(ids, at)))
                times.append(time.perf_counter() - began)
        times.sort()
        print(f"database: {connection.vendor}; {SITES} sites, 20 windows, {CALLS} calls")
        print(
            f"in_maintenance per call: median {statistics.median(times) * 1000:.2f} ms, "
            f"p99 {times[int(len(times) * 0.99)] * 1000:.2f} ms"
        )
        print(
            f"queries per call: {len(queries) / CALLS:.2f}; calls finding sites covered: "
            f"{sum(1 for c in covered if c)} of {CALLS}"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
