"""Alert delivery at scale: 1,000 monitors going down at once, each routed to three channels.

    .venv/bin/python bench/notify.py                                 # unpaced: 3 webhooks
    .venv/bin/python bench/notify.py --scenario paced                # Slack + Discord + webhook
    .venv/bin/python bench/notify.py --monitors 200 --concurrency 32 --redis-url redis://127.0.0.1:6379/6

What it does, all on 127.0.0.1:
 1. starts --channels recording HTTP stand-ins in this process (threaded
    servers answering 200 at once; each records time.time() on arrival and
    which transition the message announces: the generic webhook's JSON has
    monitor.id, Slack's and Discord's text name the monitor);
 2. creates a scratch PostgreSQL database (--db, dropped at the end),
    migrates it, flushes the Redis db of --redis-url (the benchmarks' own:
    nothing else is touched); makes one project with --channels default
    channels on the stand-ins and --monitors sites in it (bulk insert; the
    sites point at .invalid names and are never checked: no beat runs);
    - scenario "unpaced": generic webhook channels (PACE 0): the pipeline itself;
    - scenario "paced": Slack, Discord and a webhook, each paced as its
      transport says (Slack 1 message/s per webhook, Discord 2/s); by default
      100 monitors, since 1,000 would take Slack about 1,000 s;
 3. starts --workers celery workers with the Procfile's command line
    (--pool threads, --concurrency 16 unless told) and beat (unless
    --no-beat: its sweeper re-enqueues a paced message that ran out of
    retries; the sites are never due, so it starts no check), warms them with
    --warmup transitions of another project (not measured), then
 4. in one transaction stores a failing check (HTTP 503) and a down
    transition for every monitor; commits; records the commit time; then
    announces each transition as monitor.recording does after its commit
    (site_status_changed → notifications.receivers → send_notification.delay);
 5. waits until every message has reached its stand-in and nothing is
    pending in the database, and reports:
    - time from the commit to each stand-in's receipt: p50/p99/max per
      destination and over all messages; the first alert of each transition
      (the earliest of its messages) p50/p99/max, against the issue's goal of
      1 s (p99) when nothing is paced;
    - where that time went, from the rows: commit → transition routed
      (Transition.notified_at), routed → received;
    - messages per second (received over commit → last receipt), total wall time;
    - CPU per delivered message in ms (/proc utime+stime, including reaped
      children): the worker process tree, the PostgreSQL backends serving the
      scratch database (sampled every 0.5 s so none is missed), their sum, and
      for reference every PostgreSQL process and redis-server (which serve the
      whole machine); database transactions per message (pg_stat_database).

The stand-ins run in this process, so their CPU is not counted anywhere.
Every process started here is stopped on exit, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BENCH_REDIS_URL,
    BIN,
    ProcessSet,
    percentile,
    pgrep,
    setup_django,
)
from bench.pipeline import create_database, drop_database, production_env, stop_on_sigterm
from bench.small_end import Cost, database_backends, procfile_commands, sample

NAME = "bench monitor"  # each site is named f"{NAME} {its id}"
NAMED = re.compile(rb"bench monitor (\d+)")
PACED_KINDS = ("slack", "discord", "webhook")
GOAL_SECONDS = 1.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--scenario", choices=("unpaced", "paced"), default="unpaced")
    add("--monitors", type=int, help="monitors going down at once (default 1,000; paced: 100)")
    add("--channels", type=int, default=3, help="channels per monitor, one stand-in each")
    add("--workers", type=int, default=1, help="celery worker processes")
    add("--concurrency", type=int, default=16, help="threads per worker (the Procfile's 16)")
    add("--warmup", type=int, help="transitions sent first, not measured (default: all threads)")
    add("--timeout", type=float, help="give up waiting after this many seconds")
    add("--redis-url", default=BENCH_REDIS_URL, help="the broker; its db is flushed")
    add("--db", default="uptime_notifybench", help="scratch database (dropped and created)")
    add("--keep", action="store_true", help="keep the database and the logs")
    add(
        "--beat",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run celery beat too (its sweeper re-enqueues what ran out of retries)",
    )
    add("--py-spy", metavar="FILE", help="py-spy the worker (GIL holder, collapsed stacks)")
    args = parser.parse_args(argv)
    if args.monitors is None:
        args.monitors = 1000 if args.scenario == "unpaced" else 100
    if args.monitors < 1 or args.channels < 1 or args.workers < 1 or args.concurrency < 1:
        parser.error("--monitors, --channels, --workers and --concurrency must be at least 1")
    if not re.fullmatch(r"redis://127\.0\.0\.1:\d+/\d+", args.redis_url):
        parser.error("--redis-url must be redis://127.0.0.1:<port>/<db>")
    if args.warmup is None:
        args.warmup = args.workers * args.concurrency
    return args


# --- stand-ins --------------------------------------------------------------------


@dataclass
class StandIn:
    """A recording HTTP server: (arrival time.time(), path, site id) of every POST."""

    kind: str
    port: int = 0
    received: list[tuple[float, str, int | None]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> StandIn:
        received = self.received
        site_id = self.site_id

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The status line and headers go out in one write and the body in a
            # second: with Nagle on, the body waits for the client's delayed ACK
            # (40 ms on Linux), which no real receiver adds to each answer.
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.time()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                # Read once, after answering: the waiting loop counts arrivals
                # every 0.5 s, and parsing every body each time took the GIL
                # from the stand-ins while they were being timed.
                received.append((at, self.path, site_id(body)))  # list.append is atomic

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            # listen()'s backlog, read when the server is made: the default 5
            # drops the SYNs of a burst of new connections, which then wait
            # a second to be sent again.
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def site_id(self, body: bytes) -> int | None:
        """Which monitor a message is about (its transition: one per monitor here)."""
        if self.kind == "webhook":
            return json.loads(body)["monitor"]["id"]
        found = NAMED.search(body)
        return int(found.group(1)) if found else None

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# --- setup ----------------------------------------------------------------------


def channel_kinds(args: argparse.Namespace) -> list[str]:
    if args.scenario == "unpaced":
        return ["webhook"] * args.channels
    return [PACED_KINDS[i % len(PACED_KINDS)] for i in range(args.channels)]


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()


def make_project(name: str, stand_ins: list[StandIn], path: str, monitors: int) -> list[int]:
    """A project with one default channel per stand-in and `monitors` sites; their ids."""
    from notifications.models import Channel
    from sites.models import Site
    from teams.models import Project

    project = Project.objects.create(name=name)
    for n, stand_in in enumerate(stand_ins):
        Channel.objects.create(
            project=project,
            kind=stand_in.kind,
            name=f"{stand_in.kind} {n}",
            secrets={"url": stand_in.url(path)},  # url is a secret field of these kinds
        )
    sites = Site.objects.bulk_create(
        Site(
            project=project,
            url=f"https://site-{i}.bench.invalid/",
            status=Site.Status.UP,
            next_check_at=None,
        )
        for i in range(monitors)
    )
    ids = [site.pk for site in sites]
    for site in sites:
        site.name = f"{NAME} {site.pk}"
    Site.objects.bulk_update(sites, ["name"], batch_size=1000)
    return ids


def go_down(site_ids: list[int]) -> tuple[float, list]:
    """Store a 503 check and a down transition for each site in one transaction.

    Returns the commit's time.time() and the transitions (not yet announced).
    """
    from django.db import transaction
    from django.utils import timezone

    from monitor.errors import ErrorKind
    from monitor.models import Check, Transition
    from sites.models import Site

    now = timezone.now()
    sites = {site.pk: site for site in Site.objects.filter(pk__in=site_ids)}
    with transaction.atomic():
        checks = Check.objects.bulk_create(
            Check(
                site_id=site_id,
                checked_at=now,
                up=False,
                status_code=503,
                response_ms=12,
                error_kind=ErrorKind.HTTP_STATUS,
                error_message="HTTP 503 Service Unavailable",
            )
            for site_id in site_ids
        )
        transitions = Transition.objects.bulk_create(
            Transition(
                site=sites[check.site_id],
                check_result=check,
                from_status=Site.Status.UP,
                to_status=Site.Status.DOWN,
                created_at=now,
            )
            for check in checks
        )
        Site.objects.filter(pk__in=site_ids).update(
            status=Site.Status.DOWN, status_changed_at=now, failures_in_a_row=1
        )
    return time.time(), transitions


def announce(transitions: list) -> None:
    """What monitor.recording does after its commit: site_status_changed per transition."""
    from monitor.recording import announce

    logging.getLogger("monitor.recording").setLevel(logging.WARNING)  # a line per transition
    announce(transitions)


def start_workers(procs: ProcessSet, args: argparse.Namespace) -> list[int]:
    argv = procfile_commands(0)["worker"]
    argv[argv.index("--concurrency") + 1] = str(args.concurrency)
    pids = []
    for n in range(args.workers):
        pids.append(procs.start(f"worker{n}", [*argv, "--hostname", f"notify{n}@%h"]).pid)
    if args.beat:
        procs.start("beat", procfile_commands(0)["beat"])
    deadline = time.monotonic() + 90
    for n in range(args.workers):
        while " ready." not in procs.tail(f"worker{n}", 1_000_000):
            procs.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker{n} not ready in 90 s:\n{procs.tail(f'worker{n}')}")
            time.sleep(0.2)
    return pids


# --- waiting and measuring ---------------------------------------------------------


def arrivals(stand_ins: list[StandIn], path: str, wanted: set[int]) -> list[list[tuple]]:
    """Per stand-in: (arrival time, site id) of the messages for `wanted` sites at `path`."""
    found = []
    for stand_in in stand_ins:
        rows = []
        for at, got_path, site_id in list(stand_in.received):
            if got_path == path and site_id in wanted:
                rows.append((at, site_id))
        found.append(rows)
    return found


def pending_rows() -> tuple[int, int]:
    from monitor.models import Transition
    from notifications.models import Notification

    return (
        Transition.objects.filter(
            notification_status=Transition.NotificationStatus.PENDING
        ).count(),
        Notification.objects.filter(status=Notification.Status.PENDING).count(),
    )


def wait_for(
    stand_ins, path, wanted, expected, *, timeout, procs, costs=None, label="", quiet=False
) -> float:
    """Wait until `expected` messages arrived and nothing is pending; return the wait."""
    started = time.monotonic()
    last_print = started
    while True:
        time.sleep(0.5)
        procs.check_alive()
        if costs is not None:
            sample(costs, start=False)
        got = sum(len(rows) for rows in arrivals(stand_ins, path, wanted))
        if got >= expected and pending_rows() == (0, 0):
            return time.monotonic() - started
        now = time.monotonic()
        if now - started > timeout:
            transitions, notifications = pending_rows()
            raise RuntimeError(
                f"{label}: only {got:,} of {expected:,} messages after {timeout:g} s; "
                f"{transitions} transition(s) and {notifications} notification(s) pending"
            )
        if not quiet and now - last_print >= 5:
            last_print = now
            print(
                f"  {label}: {got:,} of {expected:,} messages after {now - started:.0f} s",
                flush=True,
            )


def xact_commits() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        return cursor.fetchone()[0]


def db_breakdown(transition_ids: list[int], commit_at: float) -> dict:
    """Seconds from the commit to each transition's routing, and the attempts recorded."""
    from monitor.models import Transition
    from notifications.models import Notification, NotificationAttempt

    routed = sorted(
        notified.timestamp() - commit_at
        for notified in Transition.objects.filter(id__in=transition_ids).values_list(
            "notified_at", flat=True
        )
        if notified is not None
    )
    attempts = {}
    for outcome in NotificationAttempt.objects.filter(transition_id__in=transition_ids).values_list(
        "outcome", flat=True
    ):
        attempts[outcome] = attempts.get(outcome, 0) + 1
    statuses = {}
    for status in Notification.objects.filter(transition_id__in=transition_ids).values_list(
        "status", flat=True
    ):
        statuses[status] = statuses.get(status, 0) + 1
    return {"routed": routed, "attempts": attempts, "statuses": statuses}


def count_queries(stand_ins: list[StandIn]) -> dict:
    """Route one transition and deliver its messages in this process, counting SQL statements.

    The routing step's enqueue is captured instead of sent, so no worker
    races for the rows.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from notifications import delivery, routing

    site_ids = make_project("query count", stand_ins, "/queries", 1)
    _, transitions = go_down(site_ids)
    captured: list[int] = []
    original = routing._enqueue
    routing._enqueue = captured.extend
    try:
        with CaptureQueriesContext(connection) as routed:
            delivery.deliver_transition(transitions[0].pk)
    finally:
        routing._enqueue = original
    delivered = []
    for notification_id in captured:
        with CaptureQueriesContext(connection) as sent:
            delivery.deliver_notification(notification_id)
        delivered.append(sent.captured_queries)
    return {"route": routed.captured_queries, "deliver": delivered}


def statement_kinds(queries: list[dict]) -> str:
    kinds: dict[str, int] = {}
    for query in queries:
        sql = query["sql"].lstrip()
        word = sql.split(None, 1)[0].upper() if sql else "?"
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql)
        key = f"{word} {table.group(1)}" if table else word
        kinds[key] = kinds.get(key, 0) + 1
    return ", ".join(f"{n}x {key}" for key, n in kinds.items())


# --- report ---------------------------------------------------------------------


def spread(values: list[float]) -> str:
    values = sorted(values)
    if not values:
        return "none"
    return (
        f"p50 {percentile(values, 0.5):6.3f} s  p99 {percentile(values, 0.99):6.3f} s  "
        f"max {values[-1]:6.3f} s"
    )


def print_report(args, stand_ins, per_destination, commit_at, breakdown, costs, xacts) -> None:
    from notifications import transports

    messages_total = sum(len(rows) for rows in per_destination)
    all_latencies = [at - commit_at for rows in per_destination for at, _ in rows]
    last = max(all_latencies, default=math.nan)
    first_by_site: dict[int, float] = {}
    for rows in per_destination:
        for at, site_id in rows:
            first_by_site[site_id] = min(first_by_site.get(site_id, math.inf), at - commit_at)
    first = sorted(first_by_site.values())

    print(
        f"\nnotify ({args.scenario}): {args.monitors:,} monitors down at once x "
        f"{args.channels} channel(s) = {args.monitors * args.channels:,} messages; "
        f"{args.workers} worker(s) x {args.concurrency} thread(s)"
    )
    print("  commit → stand-in receipt, per destination:")
    for stand_in, rows in zip(stand_ins, per_destination, strict=True):
        pace = transports.get(stand_in.kind).PACE
        sites = [site_id for _, site_id in rows]
        dupes = len(sites) - len(set(sites))
        floor = f", pacing floor {(args.monitors - 1) * pace:,.0f} s" if pace else ""
        print(
            f"    {stand_in.kind:<8} :{stand_in.port:<5} (PACE {pace:g} s{floor}) "
            f"{len(rows):5,} msgs  {spread([at - commit_at for at, _ in rows])}"
            + (f"  {dupes} DUPLICATE(S)" if dupes else "")
        )
    print(f"    all messages             {messages_total:5,} msgs  {spread(all_latencies)}")
    p99_first = percentile(first, 0.99)
    verdict = "met" if p99_first <= GOAL_SECONDS else "NOT met"
    print(
        f"  first alert per transition {len(first):5,} trans {spread(first)}  "
        f"(goal p99 ≤ {GOAL_SECONDS:g} s{' unpaced' if args.scenario == 'paced' else ''}: "
        f"{verdict})"
    )
    print(f"  commit → routed (Transition.notified_at)  {spread(breakdown['routed'])}")
    print(
        f"  throughput        {messages_total / last:,.1f} messages/s "
        f"(commit → last receipt {last:.2f} s; total wall time {last:.2f} s)"
    )
    print(
        f"  rows              notifications {breakdown['statuses']}, attempts "
        f"{breakdown['attempts']}"
    )
    print("  CPU per delivered message (/proc, commit → nothing pending):")
    by_name = {cost.name: cost.cpu for cost in costs}
    shown = [
        ("worker (process tree)", by_name["worker"]),
        ("PostgreSQL backends of the db", by_name["pg backends"]),
        ("worker + those backends", by_name["worker"] + by_name["pg backends"]),
        ("all PostgreSQL processes", by_name["postgres"]),
        ("redis-server", by_name["redis"]),
    ]
    for name, cpu in shown:
        per = cpu * 1000 / messages_total if messages_total else math.nan
        print(f"    {name:<32} {per:7.2f} ms/message   ({cpu:6.2f} CPU s)")
    print(
        f"  database          {xacts / messages_total:.1f} transactions per message "
        f"(pg_stat_database xact_commit, {xacts:,} in all)"
    )


def print_queries(queries: dict) -> None:
    print("  SQL statements, one transition routed and delivered in this process:")
    print(
        f"    send_notification (route)   {len(queries['route']):3}: "
        f"{statement_kinds(queries['route'])}"
    )
    for n, sent in enumerate(queries["deliver"]):
        print(f"    deliver_notification #{n + 1}     {len(sent):3}: {statement_kinds(sent)}")


# --- main -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    stop_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="uptime-notify-") as tmp:
        tmp_path = Path(tmp)
        data_dir = tmp_path / "data"
        (data_dir / "static").mkdir(parents=True)  # whitenoise warns without it
        env = production_env(args.db, args.redis_url, data_dir)
        setup_django(
            **{k: env[k] for k in ("DATABASE_URL", "CELERY_BROKER_URL", "UPTIME_DATA_DIR")}
        )
        procs = ProcessSet(env, tmp_path)
        stand_ins = [StandIn(kind).start() for kind in channel_kinds(args)]
        print(f"database {args.db}, Redis {args.redis_url}, logs in {tmp}", flush=True)
        try:
            run(args, procs, stand_ins)
        finally:
            procs.stop_all()
            for stand_in in stand_ins:
                stand_in.stop()
            if args.keep:
                kept = Path(tempfile.mkdtemp(prefix="uptime-notify-logs-"))
                for log in tmp_path.glob("*.log"):
                    log.rename(kept / log.name)
                print(f"kept database {args.db} and the logs in {kept}")
            else:
                drop_database(args.db)
            flush_redis(args.redis_url)


def run(args: argparse.Namespace, procs: ProcessSet, stand_ins: list[StandIn]) -> None:
    from django.core.management import call_command
    from django.db import connection

    from notifications import transports

    flush_redis(args.redis_url)
    create_database(args.db)
    started = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    warm_ids = make_project("warm-up", stand_ins, "/warmup", args.warmup) if args.warmup else []
    site_ids = make_project("notify benchmark", stand_ins, "/hook", args.monitors)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  migrated, {args.monitors:,} monitors made in {time.monotonic() - started:.1f} s")

    worker_pids = start_workers(procs, args)
    paces = [transports.get(stand_in.kind).PACE for stand_in in stand_ins]
    slowest = max(paces) * max(args.monitors, args.warmup)
    timeout = args.timeout or 120 + 3 * slowest

    if warm_ids:
        _, transitions = go_down(warm_ids)
        announce(transitions)
        waited = wait_for(
            stand_ins,
            "/warmup",
            set(warm_ids),
            len(warm_ids) * len(stand_ins),
            timeout=timeout,
            procs=procs,
            label="warm-up",
            quiet=True,
        )
        print(f"  warm-up: {len(warm_ids)} transition(s) delivered in {waited:.1f} s", flush=True)
        time.sleep(1)

    costs = [
        Cost("worker", lambda: worker_pids),
        Cost("pg backends", database_backends(args.db), descendants=False),
        Cost("postgres", lambda: pgrep("postgres"), descendants=False),
        Cost("redis", lambda: pgrep("redis-server"), descendants=False),
    ]
    xacts_before = xact_commits()
    spy = None
    if args.py_spy:
        spy = subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(worker_pids[0]),
                "--format",
                "raw",
                "--gil",  # only the thread holding the GIL: where Python's CPU goes
                "--rate",
                "50",
                "--nonblocking",
                "--output",
                args.py_spy,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1)
    sample(costs, start=True)
    commit_at, transitions = go_down(site_ids)
    announce(transitions)
    print(
        f"  committed {len(transitions):,} down transitions; announced them in "
        f"{time.time() - commit_at:.3f} s",
        flush=True,
    )
    wanted = set(site_ids)
    wait_for(
        stand_ins,
        "/hook",
        wanted,
        len(site_ids) * len(stand_ins),
        timeout=timeout,
        procs=procs,
        costs=costs,
        label="measured",
    )
    sample(costs, start=False)
    if spy is not None:
        spy.send_signal(2)  # SIGINT: py-spy writes what it has
        spy.wait(30)
    time.sleep(1)  # pg_stat_database is updated at most once a second
    xacts = xact_commits() - xacts_before
    per_destination = arrivals(stand_ins, "/hook", wanted)
    breakdown = db_breakdown([t.pk for t in transitions], commit_at)
    print_report(args, stand_ins, per_destination, commit_at, breakdown, costs, xacts)
    for name in list(procs.running):
        procs.stop(name)
    print_queries(count_queries(stand_ins))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: every process started here is stopped, the database dropped")
        raise SystemExit(130) from None
