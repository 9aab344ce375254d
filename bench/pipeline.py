"""The whole check pipeline at scale: beat, worker(s), web, PostgreSQL, Redis.

    .venv/bin/python bench/pipeline.py                      # 100,000 sites every 60 s
    .venv/bin/python bench/pipeline.py --sites 2000 --interval 10 --seconds 30   # quick
    .venv/bin/python bench/pipeline.py --workers 2 --concurrency 1 --fail-share 0.05

What it does, all on 127.0.0.1:
 1. creates a scratch database (--db, default uptime_bench; dropped at the end)
    and migrates it; flushes Redis db 14 (the benchmarks' own; no other db
    is touched);
 2. inserts --sites sites pointing at distinct paths of the local target
    (bench/target.py, started here with --latency-ms and --fail-share);
 3. measures the raw ceiling (bench/ceiling.py: probe_many alone) for
    --ceiling-seconds against the same target, before anything else runs;
 4. starts celery beat, --workers celery workers (--concurrency pool
    processes each) and, unless --no-web, gunicorn, with the production
    settings (DATABASE_URL, CELERY_BROKER_URL=redis://127.0.0.1:6379/14,
    UPTIME_ALLOW_PRIVATE_TARGETS=1, UPTIME_DISPATCH_EVERY=1, DEBUG=0);
 5. sets the schedule: site i (0-based) is first due at t0_i = T0 + i·I/N,
    so due checks arrive evenly, N/I per second; then lets it run a
    warm-up (--warmup, default one interval) and a measured window
    (--seconds);
 6. reports, for checks whose checked_at falls in the window:
    - checks/s sustained, against the N/I per second the schedule asks for;
    - lateness: site i is due at t0_i + k·I; a check's lateness is its
      checked_at (when its probe started) minus the latest due time at or
      before it. It lies in [0, I) by construction: a site more than one
      interval behind shows up as checks missing from the count instead;
    - CPU seconds per 1,000 checks of each process group over the window
      (/proc utime+stime of whole process trees, including reaped children:
      worker with its pool, beat, web, target, every PostgreSQL process,
      redis-server), the pipeline's total CPU per check (all but the
      target) and the peak RSS (VmHWM) of each group's largest process;
    - database bytes per check (pg_total_relation_size of monitor_check over
      its rows);
    - pipeline throughput and CPU per check against the ceiling's.

PostgreSQL and Redis serve the whole machine: their CPU includes anything
else using them during the window. Every process started here is stopped on
exit, also on Ctrl-C or an error; the database is dropped unless --keep.
"""

from __future__ import annotations

import argparse
import math
import os
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
    add("--web", action=argparse.BooleanOptionalAction, default=True, help="run gunicorn too")
    add("--target-processes", type=int, default=1)
    add("--ceiling-seconds", type=float, default=10.0, help="0 skips the ceiling")
    add("--ceiling-processes", type=int, help="default: workers x concurrency")
    add("--db", default="uptime_bench", help="scratch database (dropped and created)")
    add("--keep", action="store_true", help="keep the database and the logs")
    args = parser.parse_args(argv)
    if args.timeout > args.interval:
        parser.error("--timeout cannot be longer than --interval")
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


def flush_bench_redis() -> None:
    import redis

    redis.Redis.from_url(BENCH_REDIS_URL, socket_connect_timeout=2).flushdb()


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


def production_env(db: str, data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "uptime.settings",
        "DATABASE_URL": database_url(db),
        "CELERY_BROKER_URL": BENCH_REDIS_URL,
        "UPTIME_ALLOW_PRIVATE_TARGETS": "1",
        "UPTIME_DISPATCH_EVERY": "1",
        "UPTIME_DATA_DIR": str(data_dir),
        "SECRET_KEY": "bench-only-secret-key",
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("CELERY_TASK_ALWAYS_EAGER", "SLACK_WEBHOOK_URL"):
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
    for n in range(args.workers):
        while " ready." not in procs.tail(f"worker{n}", 100_000):
            procs.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker{n} not ready in 90 s:\n{procs.tail(f'worker{n}')}")
            time.sleep(0.2)
    return pids


# --- measuring ------------------------------------------------------------------


def database_sessions() -> int:
    """Sessions ever opened on this database (pg_stat_database, PostgreSQL 14+)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def queue_length() -> int:
    import redis

    return redis.Redis.from_url(BENCH_REDIS_URL).llen("celery")


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
    seconds: float, procs: ProcessSet, groups: list[Group], *, label: str, report_rate: bool
) -> None:
    """Wait `seconds`, watching the processes; a line of progress every 10 s."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 10))
        procs.check_alive()
        sample_groups(groups, at_start=None)  # peak RSS of processes that come and go
        rate = f", {recent_rate():,.0f} checks/s over the last 10 s" if report_rate else ""
        print(
            f"  {label}: {max(end - time.monotonic(), 0):4.0f} s left, "
            f"{queue_length():,} task(s) queued{rate}",
            flush=True,
        )


_LATENESS_SQL = """
WITH offsets AS (
    SELECT extract(epoch FROM checked_at) - (%(t0)s + (site_id - %(first)s) * %(step)s) AS e
    FROM monitor_check
    WHERE checked_at >= %(w0)s AND checked_at < %(w1)s
), lateness AS (
    SELECT e - floor(e / %(interval)s) * %(interval)s AS late FROM offsets
)
SELECT count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY late),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY late),
       max(late),
       count(*) FILTER (WHERE late >= 2)
FROM lateness
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
        checks, p50, p99, worst, late2 = cursor.fetchone()
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
    }


def print_report(args, figures: dict, groups: list[Group], window: float, ceiling) -> None:
    checks = figures["checks"]
    offered = args.sites / args.interval
    print(
        f"\npipeline: {args.sites:,} sites every {args.interval} s, latency "
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
    print(
        f"  lateness          p50 {figures['p50']:.2f} s, p99 {figures['p99']:.2f} s, "
        f"max {figures['max']:.2f} s; {figures['late2']:,} check(s) ≥ 2 s late"
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
        f"PostgreSQL + redis-server, not the target); {pipeline_cpu / window:.2f} cores"
    )
    rows = figures["check_rows"] or 1
    print(
        f"  database          {figures['check_bytes'] / rows:,.0f} bytes per check in "
        f"monitor_check with its indexes ({figures['check_heap_bytes'] / rows:,.0f} heap), "
        f"{figures['check_rows']:,} rows; whole database {fmt_bytes(figures['db_bytes'])}"
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
        env = production_env(args.db, data_dir)
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
        print(f"database {args.db}, Redis {BENCH_REDIS_URL}, logs in {tmp}", flush=True)
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
            flush_bench_redis()


def run(args: argparse.Namespace, procs: ProcessSet, tmp_path: Path) -> None:
    from django.db import connections

    flush_bench_redis()
    create_database(args.db)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    first_id = insert_sites(args.sites, base_url, interval=args.interval, timeout=args.timeout)
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

    print("\nstarting beat, worker(s)" + (", web" if args.web else ""), flush=True)
    pids = start_pipeline(procs, args)
    groups = [
        Group("worker (with its pool)", roots=pids["worker"]),
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
        f"scheduled: {args.sites / args.interval:,.0f} checks/s due from {t0:%H:%M:%S}; "
        f"warm-up {args.warmup:g} s, then {args.seconds:g} s measured",
        flush=True,
    )
    run_for(args.warmup + 2, procs, groups, label="warm-up", report_rate=True)

    sessions_before = database_sessions()
    sample_groups(groups, at_start=True)
    w0 = datetime.now(UTC)
    window_started = time.monotonic()
    run_for(args.seconds, procs, groups, label="window", report_rate=False)
    sample_groups(groups, at_start=False)
    window = time.monotonic() - window_started
    sessions = database_sessions() - sessions_before
    w1 = w0 + timedelta(seconds=window)
    # Checks that started inside the window may still be recording.
    time.sleep(args.latency_ms / 1000 + 3)
    figures = window_figures(
        first_id=first_id, n=args.sites, interval=args.interval, t0=t0, w0=w0, w1=w1
    )
    figures["sessions"] = sessions
    print_report(args, figures, groups, window, ceiling)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: every process started here is stopped, the database dropped")
        raise SystemExit(130) from None
