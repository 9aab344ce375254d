"""The whole check pipeline at scale: beat, worker(s), web, PostgreSQL, Redis.

    .venv/bin/python bench/pipeline.py                      # 100,000 sites every 60 s
    .venv/bin/python bench/pipeline.py --sites 2000 --interval 10 --seconds 30   # quick
    .venv/bin/python bench/pipeline.py --workers 2 --concurrency 1 --fail-share 0.05
    .venv/bin/python bench/pipeline.py --locations 3 --sites 50000   # three probe processes

What it does, all on 127.0.0.1:
 1. creates a scratch database (--db, default uptime_bench; dropped at the end)
    and migrates it; flushes the Redis db of --redis-url (db 14 by default,
    the benchmarks' own; no other db is touched);
 2. inserts --sites sites pointing at distinct paths of the local target
    (bench/target.py, started here with --latency-ms and --fail-share);
 3. measures the raw ceiling (bench/ceiling.py: probe_many alone) for
    --ceiling-seconds against the same target, before anything else runs;
 4. starts celery beat, --workers celery workers (--concurrency pool
    processes each) and, unless --no-web, gunicorn, with the production
    settings (DATABASE_URL, CELERY_BROKER_URL=--redis-url,
    UPTIME_ALLOW_PRIVATE_TARGETS=1, UPTIME_DISPATCH_EVERY=1, DEBUG=0);
    with --locations L, also L locations loc1 … locL (rows in the database,
    the central "default" disabled) and one probe process for each, as a
    remote location runs: a threads-pool worker on its queue probe.lock with
    its token, sending from 127.0.0.(k+1), with a database URL that points
    nowhere. The central worker then probes nothing: it records what the
    locations send back and decides each site's status by quorum. Without
    --locations (or 0) the central worker probes, as today;
 5. sets the schedule: site i (0-based) is first due at t0_i = T0 + i·I/N,
    so due checks arrive evenly, N/I per second; then lets it run a
    warm-up (--warmup, default one interval) and a measured window
    (--seconds);
 6. reports, for checks whose checked_at falls in the window:
    - checks/s sustained, against the N/I per second the schedule asks for
      (N·L/I with L locations: every location checks every site), overall
      and per location;
    - lateness: site i is due at t0_i + k·I; a check's lateness is its
      checked_at (when its probe started) minus the latest due time at or
      before it. It lies in [0, I) by construction: a site more than one
      interval behind shows up as checks missing from the count instead.
      With locations, each (site, location) check is measured against the
      site's grid, overall and per location;
    - CPU seconds per 1,000 checks of each process group over the window
      (/proc utime+stime of whole process trees, including reaped children:
      worker with its pool, beat, web, target, every PostgreSQL process,
      redis-server, each location's probe process), the pipeline's total
      CPU per check (all but the target) and the peak RSS (VmHWM) of each
      group's largest process;
    - database bytes per check (pg_total_relation_size of monitor_check over
      its rows; with locations, the per-location views too), and again once
      every check is packed as the hourly upkeep packs them (monitor.packing);
    - transitions recorded in the window (0 expected with --fail-share 0);
    - the recording backlog: tasks still queued for the central worker when
      the window ends, and how long they take to record (the figures above
      wait for them, up to a minute or an interval);
    - pipeline throughput and CPU per check against the ceiling's.

PostgreSQL and Redis serve the whole machine: their CPU includes anything
else using them during the window. Every process started here is stopped on
exit, also on Ctrl-C or an error; the database is dropped unless --keep.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ceiling import measure_ceiling, print_ceiling
from bench.common import (
    BENCH_REDIS_URL,
    BIN,
    Group,
    ProcessSet,
    database_url,
    fmt_bytes,
    free_port,
    pg_cli,
    pgrep,
    sample_groups,
    setup_django,
    target_argv,
    wait_for_port,
)

FAR_FUTURE = datetime(2999, 1, 1, tzinfo=UTC)
# Location k sends from 127.0.0.(k+1): its own loopback address, as in the
# service suite, and its own range of ephemeral ports.
MAX_LOCATIONS = 250
# A probe process must not reach the database: nothing listens there.
NO_DATABASE_URL = "postgres://nobody@127.0.0.1:1/nothing"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--sites", type=int, default=100_000)
    add("--interval", type=int, default=60, help="seconds between a site's checks")
    add("--timeout", type=int, default=10, help="each site's timeout (at most the interval)")
    add("--seconds", type=float, default=60.0, help="the measured window")
    add("--warmup", type=float, help="seconds before the window (default: one interval)")
    add("--latency-ms", type=float, default=100.0, help="the target's delay before answering")
    add("--fail-share", type=float, default=0.0, help="share of sites answering 503")
    add("--workers", type=int, default=1, help="celery worker processes")
    add("--concurrency", type=int, default=2, help="pool processes per worker")
    add(
        "--locations",
        type=int,
        default=0,
        help="remote locations loc1..locN, one probe process each (0: the central worker probes)",
    )
    add("--probe-threads", type=int, default=4, help="threads of each location's probe process")
    add("--web", action=argparse.BooleanOptionalAction, default=True, help="run gunicorn too")
    add("--target-processes", type=int, default=1)
    add("--ceiling-seconds", type=float, default=10.0, help="0 skips the ceiling")
    add("--ceiling-processes", type=int, help="default: workers x concurrency")
    add("--db", default="uptime_bench", help="scratch database (dropped and created)")
    add("--redis-url", default=BENCH_REDIS_URL, help="the broker's Redis db (flushed)")
    add("--keep", action="store_true", help="keep the database and the logs")
    args = parser.parse_args(argv)
    if args.timeout > args.interval:
        parser.error("--timeout cannot be longer than --interval")
    if not 0 <= args.locations <= MAX_LOCATIONS:
        parser.error(f"--locations must be 0 to {MAX_LOCATIONS}")
    if not re.fullmatch(r"redis://127\.0\.0\.1:\d+/\d+", args.redis_url):
        parser.error("--redis-url must be redis://127.0.0.1:<port>/<db>")
    args.warmup = args.interval if args.warmup is None else args.warmup
    args.ceiling_processes = args.ceiling_processes or args.workers * args.concurrency
    return args


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the finally blocks stop what we started."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


# --- setup ----------------------------------------------------------------------


def create_database(db: str) -> None:
    pg_cli("dropdb", "--if-exists", "--force", db)
    pg_cli("createdb", db)


def drop_database(db: str) -> None:
    from django.db import connections

    connections.close_all()
    pg_cli("dropdb", "--if-exists", "--force", db)


def flush_bench_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()


def insert_sites(n: int, base_url: str, *, interval: int, timeout: int) -> int:
    """Sites /s/0 … /s/n-1, not yet scheduled; returns the first id (ids are
    contiguous: site i has id first + i)."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Max, Min

    from sites.models import Site
    from teams.models import Project

    call_command("migrate", verbosity=0, interactive=False)
    project = Project.objects.create(name="pipeline benchmark")
    Site.objects.bulk_create(
        (
            Site(
                project=project,
                url=f"{base_url}/s/{i}",
                interval=interval,
                timeout=timeout,
                next_check_at=FAR_FUTURE,
            )
            for i in range(n)
        ),
        batch_size=5_000,
    )
    first, last = Site.objects.aggregate(first=Min("id"), last=Max("id")).values()
    if last - first + 1 != n:
        raise RuntimeError(f"site ids are not contiguous: {first}..{last} for {n} sites")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE sites_site")
    return first


def schedule_sites(first_id: int, n: int, interval: int, t0: datetime) -> None:
    """Site i is first due at t0 + i·interval/n: an even flow of due checks."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sites_site SET next_check_at = %s + (id - %s) * %s * interval '1 second'",
            [t0, first_id, interval / n],
        )


def create_locations(n: int) -> dict[int, tuple[str, str]]:
    """Locations loc1 … locN, with the central "default" disabled (it records
    and decides, but probes nothing); returns {id: (name, token)}."""
    from monitor.locations import DEFAULT, location_token
    from monitor.models import DEFAULT_LOCATION_ID, Location

    if not n:
        return {}
    Location.objects.update_or_create(
        id=DEFAULT_LOCATION_ID, defaults={"name": DEFAULT, "enabled": False}
    )
    made = [Location.objects.create(name=f"loc{k}") for k in range(1, n + 1)]
    return {location.id: (location.name, location_token(location)) for location in made}


def production_env(db: str, redis_url: str, data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "uptime.settings",
        "DATABASE_URL": database_url(db),
        "CELERY_BROKER_URL": redis_url,
        "UPTIME_ALLOW_PRIVATE_TARGETS": "1",
        "UPTIME_DISPATCH_EVERY": "1",
        "UPTIME_DATA_DIR": str(data_dir),
        "SECRET_KEY": "bench-only-secret-key",
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    }
    for name in (
        "CELERY_TASK_ALWAYS_EAGER",
        "SLACK_WEBHOOK_URL",
        "UPTIME_LOCATION",
        "UPTIME_LOCATION_TOKEN",
        "UPTIME_SOURCE_ADDRESS",
    ):
        env.pop(name, None)
    return env


def start_pipeline(procs: ProcessSet, args: argparse.Namespace) -> dict[str, list[int]]:
    celery = [str(BIN / "celery"), "--app", "uptime"]
    pids: dict[str, list[int]] = {"worker": [], "beat": [], "web": []}
    for n in range(args.workers):
        worker = procs.start(
            f"worker{n}",
            [
                *celery,
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(args.concurrency),
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"bench{n}@%h",
            ],
        )
        pids["worker"].append(worker.pid)
    for k, (name, token) in enumerate(args.location_tokens.values(), start=1):
        probe = procs.start(
            f"probe-{name}",
            [
                *celery,
                "worker",
                "--loglevel",
                "INFO",
                "--pool",
                "threads",
                "--concurrency",
                str(args.probe_threads),
                # As `make probe` starts one: with UPTIME_LOCATION set it
                # consumes probe.<name> only.
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--hostname",
                f"probe-{name}@%h",
            ],
            UPTIME_LOCATION=name,
            UPTIME_LOCATION_TOKEN=token,
            UPTIME_SOURCE_ADDRESS=f"127.0.0.{k + 1}",
            DATABASE_URL=NO_DATABASE_URL,
        )
        pids[f"probe {name}"] = [probe.pid]
    pids["beat"].append(procs.start("beat", [*celery, "beat", "--loglevel", "INFO"]).pid)
    if args.web:
        port = free_port()
        web = procs.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "uptime.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--log-level",
                "warning",
            ],
        )
        pids["web"].append(web.pid)
        wait_for_port(port, timeout=60)
    deadline = time.monotonic() + 90
    names = [f"worker{n}" for n in range(args.workers)]
    names += [f"probe-{name}" for name, _ in args.location_tokens.values()]
    for name in names:
        while " ready." not in procs.tail(name, 100_000):
            procs.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready in 90 s:\n{procs.tail(name)}")
            time.sleep(0.2)
    wait_for_locations(procs, [name for name, _ in args.location_tokens.values()], deadline)
    return pids


def wait_for_locations(procs: ProcessSet, names: list[str], deadline: float) -> None:
    """Until every location's heartbeat has reached the central side: before
    that, the dispatcher sends a location nothing."""
    from monitor.locations import is_live
    from monitor.models import Location

    while not all(is_live(location) for location in Location.objects.filter(name__in=names)):
        procs.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError("the locations' heartbeats did not arrive in 90 s")
        time.sleep(0.2)


# --- measuring ------------------------------------------------------------------


def database_sessions() -> int:
    """Sessions ever opened on this database (pg_stat_database, PostgreSQL 14+)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def queue_lengths(url: str, queues: list[str]) -> str:
    import redis

    client = redis.Redis.from_url(url)
    return ", ".join(f"{client.llen(queue):,} on {queue}" for queue in queues)


def central_queues() -> list[str]:
    """The central worker's queues: its own, and the one locations send results to."""
    from uptime.broker import LOCATIONS_QUEUE

    return ["celery", LOCATIONS_QUEUE]


def drain(url: str, *, limit: float) -> tuple[int, float | None]:
    """Wait (at most `limit` seconds) for the central queues to empty, so the
    checks made in the window are all counted; return the tasks queued when
    the window ended and how long they took to record (None: not in time).
    A backlog that does not drain means recording falls behind the checks."""
    import redis

    client = redis.Redis.from_url(url)

    def queued() -> int:
        return sum(client.llen(queue) for queue in central_queues())

    backlog = queued()
    started = time.monotonic()
    while queued():
        if time.monotonic() - started > limit:
            return backlog, None
        time.sleep(0.5)
    return backlog, time.monotonic() - started


def recent_rate(seconds: int = 10) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM monitor_check WHERE checked_at >= now() - %s * interval '1 s' "
            "AND checked_at < now()",
            [seconds],
        )
        return cursor.fetchone()[0] / seconds


def run_for(
    seconds: float,
    procs: ProcessSet,
    groups: list[Group],
    *,
    label: str,
    report_rate: bool,
    args: argparse.Namespace,
) -> None:
    """Wait `seconds`, watching the processes; a line of progress every 10 s."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 10))
        procs.check_alive()
        sample_groups(groups, at_start=None)  # peak RSS of processes that come and go
        rate = f", {recent_rate():,.0f} checks/s over the last 10 s" if report_rate else ""
        queues = central_queues() + [f"probe.{n}" for n, _ in args.location_tokens.values()]
        print(
            f"  {label}: {max(end - time.monotonic(), 0):4.0f} s left, tasks queued: "
            f"{queue_lengths(args.redis_url, queues)}{rate}",
            flush=True,
        )


# Every (site, location) check against its site's grid; per location, and
# over all of them (the row whose location is NULL).
_LATENESS_SQL = """
WITH offsets AS (
    SELECT location_id,
           extract(epoch FROM checked_at) - (%(t0)s + (site_id - %(first)s) * %(step)s) AS e
    FROM monitor_check
    WHERE checked_at >= %(w0)s AND checked_at < %(w1)s
), lateness AS (
    SELECT location_id, e - floor(e / %(interval)s) * %(interval)s AS late FROM offsets
)
SELECT location_id,
       count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY late),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY late),
       max(late),
       count(*) FILTER (WHERE late >= 2)
FROM lateness
GROUP BY GROUPING SETS ((location_id), ())
ORDER BY location_id NULLS FIRST
"""


def window_figures(*, first_id, n, interval, t0, w0, w1) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            _LATENESS_SQL,
            {
                "t0": t0.timestamp(),
                "first": first_id,
                "step": interval / n,
                "interval": interval,
                "w0": w0,
                "w1": w1,
            },
        )
        rows = cursor.fetchall()
        overall, *by_location = rows or [(None, 0, None, None, None, 0)]
        _, checks, p50, p99, worst, late2 = overall
        where = [
            {
                "location_id": location_id,
                "checks": count,
                "p50": l50 or 0.0,
                "p99": l99 or 0.0,
                "max": lmax or 0.0,
                "late2": l2,
            }
            for location_id, count, l50, l99, lmax, l2 in by_location
        ]
        cursor.execute(
            "SELECT count(*) FILTER (WHERE NOT up), count(DISTINCT site_id) FROM monitor_check "
            "WHERE checked_at >= %s AND checked_at < %s",
            [w0, w1],
        )
        down, sites_checked = cursor.fetchone()
        cursor.execute(
            "SELECT pg_total_relation_size('monitor_check'), "
            "pg_relation_size('monitor_check'), (SELECT count(*) FROM monitor_check), "
            "pg_database_size(current_database())"
        )
        total_bytes, heap_bytes, rows, db_bytes = cursor.fetchone()
        cursor.execute(
            "SELECT pg_total_relation_size('monitor_sitelocation'), "
            "(SELECT count(*) FROM monitor_sitelocation)"
        )
        view_bytes, views = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FILTER (WHERE created_at >= %s AND created_at < %s), count(*) "
            "FROM monitor_transition",
            [w0, w1],
        )
        transitions, all_transitions = cursor.fetchone()
    return {
        "checks": checks,
        "down": down,
        "sites_checked": sites_checked,
        "p50": p50 or 0.0,
        "p99": p99 or 0.0,
        "max": worst or 0.0,
        "late2": late2,
        "check_bytes": total_bytes,
        "check_heap_bytes": heap_bytes,
        "check_rows": rows,
        "db_bytes": db_bytes,
        "view_bytes": view_bytes,
        "views": views,
        "transitions": transitions,
        "all_transitions": all_transitions,
        "locations": where,
    }


def print_report(args, figures: dict, groups: list[Group], window: float, ceiling) -> None:
    checks = figures["checks"]
    offered = args.sites * max(args.locations, 1) / args.interval
    where = (
        f"from {args.locations} location(s) ({args.probe_threads} thread(s) each), "
        if args.locations
        else "from the central worker, "
    )
    print(
        f"\npipeline: {args.sites:,} sites every {args.interval} s {where}latency "
        f"{args.latency_ms:g} ms, fail share {args.fail_share:g}, {args.workers} worker(s) x "
        f"{args.concurrency} pool process(es), window {window:.1f} s"
    )
    print(
        f"  checks in window  {checks:,} ({figures['down']:,} down), "
        f"{figures['sites_checked']:,} distinct sites"
    )
    print(
        f"  throughput        {checks / window:,.0f} checks/s sustained; the schedule asks "
        f"{offered:,.0f}/s ({checks / window / offered:.1%})"
    )
    drained = (
        f"recorded {figures['drained_in']:.1f} s later"
        if figures["drained_in"] is not None
        else "NOT recorded within the wait: recording falls behind"
    )
    print(f"  recording backlog {figures['backlog']:,} task(s) queued after the window, {drained}")
    print(
        f"  lateness          p50 {figures['p50']:.2f} s, p99 {figures['p99']:.2f} s, "
        f"max {figures['max']:.2f} s; {figures['late2']:,} check(s) ≥ 2 s late"
    )
    names = {location_id: name for location_id, (name, _) in args.location_tokens.items()}
    for row in figures["locations"] if args.locations else ():
        name = names.get(row["location_id"], f"location {row['location_id']}")
        print(
            f"    {name:<14} {row['checks'] / window:7,.0f} checks/s "
            f"({row['checks'] / window / (args.sites / args.interval):.1%} of its schedule); "
            f"lateness p50 {row['p50']:.2f} s, p99 {row['p99']:.2f} s, max {row['max']:.2f} s; "
            f"{row['late2']:,} ≥ 2 s late"
        )
    print(
        f"  transitions       {figures['transitions']:,} in the window "
        f"({figures['all_transitions']:,} since the start)"
    )
    print(
        "  CPU over the window (CPU s per 1,000 checks; peak RSS of the largest process, "
        "and summed over the group's processes):"
    )
    pipeline_cpu = 0.0
    for group in groups:
        per_1000 = group.cpu * 1000 / checks if checks else math.nan
        if group.name != "target":
            pipeline_cpu += group.cpu
        print(
            f"    {group.name:<30} {group.cpu:7.2f} s  {per_1000:6.3f} s/1000  "
            f"{group.cpu / window:5.1%} of a core  peak RSS {fmt_bytes(group.largest_rss)}"
            f" (sum {fmt_bytes(group.total_rss)}, {len(group.peak_rss)} process(es))"
        )
    per_check_ms = pipeline_cpu * 1000 / checks if checks else math.nan
    print(
        f"  pipeline CPU      {per_check_ms:.3f} ms per check (worker + beat + web + all "
        f"PostgreSQL + redis-server{' + probes' if args.locations else ''}, not the target); "
        f"{pipeline_cpu / window:.2f} cores"
    )
    rows = figures["check_rows"] or 1
    print(
        f"  database          {figures['check_bytes'] / rows:,.0f} bytes per check in "
        f"monitor_check with its indexes ({figures['check_heap_bytes'] / rows:,.0f} heap), "
        f"{figures['check_rows']:,} rows; whole database {fmt_bytes(figures['db_bytes'])}"
    )
    if args.locations:
        print(
            f"                    the locations' views (monitor_sitelocation): "
            f"{fmt_bytes(figures['view_bytes'])} for {figures['views']:,} rows"
        )
    print(
        f"  connections       {figures['sessions']:,} PostgreSQL session(s) opened on "
        f"{args.db} in the window ({figures['sessions'] / window:,.1f}/s)"
    )
    if ceiling is not None and ceiling.checks:
        print(
            f"  against ceiling   throughput {checks / window / ceiling.checks_per_second:.1%} "
            f"of the ceiling's {ceiling.checks_per_second:,.0f}/s; CPU per check "
            f"{per_check_ms / ceiling.cpu_ms_per_check:.1f}x the ceiling's "
            f"{ceiling.cpu_ms_per_check:.3f} ms (the pipeline's throughput is capped "
            "by the schedule: below 100% of it, the ratio is headroom, not efficiency)"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    stop_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="uptime-pipeline-") as tmp:
        tmp_path = Path(tmp)
        data_dir = tmp_path / "data"
        (data_dir / "static").mkdir(parents=True)  # whitenoise warns without it
        env = production_env(args.db, args.redis_url, data_dir)
        setup_django(
            **{
                k: env[k]
                for k in (
                    "DATABASE_URL",
                    "CELERY_BROKER_URL",
                    "UPTIME_DATA_DIR",
                    "UPTIME_DISPATCH_EVERY",
                )
            }
        )
        procs = ProcessSet(env, tmp_path)
        print(f"database {args.db}, Redis {args.redis_url}, logs in {tmp}", flush=True)
        try:
            run(args, procs, tmp_path)
        finally:
            procs.stop_all()
            if args.keep:
                kept = Path(tempfile.mkdtemp(prefix="uptime-pipeline-logs-"))
                for log in tmp_path.glob("*.log"):
                    log.rename(kept / log.name)
                print(f"kept database {args.db} and the logs in {kept}")
            else:
                drop_database(args.db)
            flush_bench_redis(args.redis_url)


def run(args: argparse.Namespace, procs: ProcessSet, tmp_path: Path) -> None:
    from django.db import connections

    flush_bench_redis(args.redis_url)
    create_database(args.db)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    first_id = insert_sites(args.sites, base_url, interval=args.interval, timeout=args.timeout)
    args.location_tokens = create_locations(args.locations)
    print(f"  migrated and inserted {args.sites:,} sites in {time.monotonic() - started:.1f} s")
    target = procs.start(
        "target",
        target_argv(
            port,
            latency_ms=args.latency_ms,
            fail_share=args.fail_share,
            processes=args.target_processes,
        ),
    )
    wait_for_port(port)

    ceiling = None
    if args.ceiling_seconds > 0:
        from django.conf import settings

        # What one check task gets: a batch, probed at the engine's concurrency.
        batch, concurrency = settings.UPTIME_DISPATCH_BATCH, settings.UPTIME_PROBE_CONCURRENCY
        connections.close_all()  # nothing open across the fork
        print(
            f"\nceiling: probe_many alone for {args.ceiling_seconds:g} s in "
            f"{args.ceiling_processes} process(es), batch {batch}, "
            f"concurrency {concurrency}"
        )
        ceiling = measure_ceiling(
            base_url,
            processes=args.ceiling_processes,
            sites=args.sites,
            seconds=args.ceiling_seconds,
            count=None,
            batch=batch,
            concurrency=concurrency,
        )
        print_ceiling(ceiling)

    probes = f", {args.locations} location probe(s)" if args.locations else ""
    print("\nstarting beat, worker(s)" + probes + (", web" if args.web else ""), flush=True)
    pids = start_pipeline(procs, args)
    groups = [
        Group("worker (with its pool)", roots=pids["worker"]),
        *(Group(name, roots=pids[name]) for name in pids if name.startswith("probe ")),
        Group("beat", roots=pids["beat"]),
        Group("web (gunicorn, idle)", roots=pids["web"]),
        Group(
            "postgres: all processes", lister=lambda: pgrep("postgres"), include_descendants=False
        ),
        Group("redis-server", lister=lambda: pgrep("redis-server"), include_descendants=False),
        Group("target", roots=[target.pid]),
    ]
    t0 = datetime.now(UTC) + timedelta(seconds=2)
    schedule_sites(first_id, args.sites, args.interval, t0)
    print(
        f"scheduled: {args.sites * max(args.locations, 1) / args.interval:,.0f} checks/s due "
        f"from {t0:%H:%M:%S}; "
        f"warm-up {args.warmup:g} s, then {args.seconds:g} s measured",
        flush=True,
    )
    run_for(args.warmup + 2, procs, groups, label="warm-up", report_rate=True, args=args)

    sessions_before = database_sessions()
    sample_groups(groups, at_start=True)
    w0 = datetime.now(UTC)
    window_started = time.monotonic()
    run_for(args.seconds, procs, groups, label="window", report_rate=False, args=args)
    sample_groups(groups, at_start=False)
    window = time.monotonic() - window_started
    sessions = database_sessions() - sessions_before
    w1 = w0 + timedelta(seconds=window)
    # Checks that started inside the window may still be recording.
    time.sleep(args.latency_ms / 1000 + 3)
    backlog, drained_in = drain(args.redis_url, limit=max(60.0, args.interval))
    figures = window_figures(
        first_id=first_id, n=args.sites, interval=args.interval, t0=t0, w0=w0, w1=w1
    )
    figures["sessions"] = sessions
    figures["backlog"], figures["drained_in"] = backlog, drained_in
    print_report(args, figures, groups, window, ceiling)
    print_packed(pack_everything())


def pack_everything() -> dict:
    """Pack every check as the hourly upkeep packs a closed hour, and size the result."""
    from django.db import connection

    from monitor.packing import pack_checks

    cpu, started = time.process_time(), time.perf_counter()
    # older_than two hours ahead: the current hour too, the run's checks all lie in it or the last.
    packed = pack_checks(older_than=datetime.now(UTC) + timedelta(hours=2), time_budget=3600)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE monitor_checkblock")
        cursor.execute(
            "SELECT pg_total_relation_size('monitor_checkblock'), count(*), sum(count) "
            "FROM monitor_checkblock"
        )
        total, blocks, checks = cursor.fetchone()
    return {
        "packed": packed,
        "cpu": cpu,
        "wall": wall,
        "bytes": total,
        "blocks": blocks,
        "checks": checks or 0,
    }


def print_packed(packing: dict) -> None:
    checks = packing["checks"] or 1
    print(
        f"  packed            {packing['bytes'] / checks:,.1f} bytes per check in "
        f"monitor_checkblock with its indexes, {packing['checks']:,} checks in "
        f"{packing['blocks']:,} rows ({packing['checks'] / max(packing['blocks'], 1):.1f} a row: "
        f"a short run's hours are part-filled; bench/bytes_per_check.py shows full ones); "
        f"packing took {packing['wall']:.1f} s, {packing['cpu'] / checks * 1e6:.1f} µs of "
        f"this process's CPU per check"
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: every process started here is stopped, the database dropped")
        raise SystemExit(130) from None
