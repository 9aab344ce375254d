"""The small end: 1,000 sites every 20 s (50 checks/s) on the processes of the Procfile.

    .venv/bin/python bench/small_end.py                    # PostgreSQL + Redis, fast target
    .venv/bin/python bench/small_end.py --mode make-run    # make run's: Procfile.run, SQLite
    .venv/bin/python bench/small_end.py --target mix       # the real world's mix

What it does, all on 127.0.0.1:
 1. starts the local target (bench/target.py: --latency-ms, or --mix: a spread
    of latencies, timeouts, dropped connections, plus a listener that never
    accepts, so its queue overflows and SYNs are dropped);
 2. production mode: a scratch PostgreSQL database (--db, dropped at the end)
    and Redis db 14 (flushed); make-run mode: SQLite and the file-system broker
    in a scratch data directory. Migrates; makes a user and an API token;
 3. starts the Procfile's processes with its own command lines (web: gunicorn,
    worker, beat); in make-run mode Procfile.run's (web, worker with beat
    inside) through honcho, as `make run` does;
 4. idle: measures CPU over --idle-seconds with no monitor at all (% of a core);
 5. adds --sites sites every --interval s through POST /api/site, lets them
    run a warm-up (--warmup, default two intervals) and measures --seconds;
 6. reports, from /proc: CPU ms per check of the worker (with its pool), beat,
    web, PostgreSQL (the backends serving this database: pg_stat_activity's
    pids, sampled at both ends, so a backend that ended mid-window is missed;
    and all PostgreSQL processes, which include anything else on the server),
    redis-server; the total; and the PSS (proportional set size: shared pages
    split among the processes sharing them) of web + worker + beat together.

A check counts if its checked_at falls in the window. API throttling is
raised for the bench's own token (UPTIME_API_RATE_USER) so 1,000 POSTs pass.
"""

from __future__ import annotations

import argparse
import os
import shlex
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BENCH_REDIS_URL,
    BIN,
    ROOT,
    ProcessSet,
    children_map,
    database_url,
    free_port,
    pgrep,
    process_cpu_seconds,
    process_tree,
    setup_django,
    target_argv,
    wait_for_port,
)
from bench.pipeline import create_database, drop_database, stop_on_sigterm

USERNAME = "small-end"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--mode", choices=("production", "make-run"), default="production")
    add("--sites", type=int, default=1000)
    add("--interval", type=int, default=20)
    add("--timeout", type=int, default=10)
    add("--seconds", type=float, default=180.0, help="the measured window")
    add("--warmup", type=float, help="seconds after adding the sites (default: 2 intervals)")
    add("--idle-seconds", type=float, default=60.0, help="0 skips the idle measurement")
    add("--target", choices=("fast", "mix"), default="fast")
    add("--latency-ms", type=float, default=0.0, help="the fast target's delay")
    add(
        "--https",
        action="store_true",
        help="the target serves HTTPS (a self-signed certificate each monitor trusts by caBundle)",
    )
    add("--db", default="uptime_engine_small", help="scratch database (dropped and created)")
    add("--redis-url", default=BENCH_REDIS_URL, help="the broker's Redis db (flushed)")
    add("--env", action="append", default=[], help="NAME=VALUE for every process (repeatable)")
    add("--keep-logs", action="store_true")
    args = parser.parse_args(argv)
    args.warmup = 2 * args.interval if args.warmup is None else args.warmup
    return args


# --- processes and their cost ---------------------------------------------------


def procfile(args: argparse.Namespace) -> str:
    return "Procfile.run" if args.mode == "make-run" else "Procfile"


def procfile_commands(port: int, filename: str = "Procfile") -> dict[str, list[str]]:
    """A Procfile's command lines, as a process manager would run them."""
    commands = {}
    for line in (ROOT / filename).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, command = line.split(":", 1)
        argv = shlex.split(command.replace("$PORT", str(port)))
        commands[name.strip()] = argv[1:] if argv[0] == "exec" else argv
    return commands


def pss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Cost:
    """CPU of a set of processes between two samples: each pid's own time (and
    its reaped children's, for the roots) counted from its first sample, up
    to its last (sampled every few seconds, so a process that ends, e.g. a
    PostgreSQL backend whose connection was recycled, still counts)."""

    name: str
    lister: object  # () -> list of root pids, asked at every sample
    descendants: bool = True
    start: dict[int, float] = field(default_factory=dict)
    end: dict[int, float] = field(default_factory=dict)

    def read(self, tree) -> dict[int, float]:
        roots = set(self.lister())
        pids = set()
        for root in roots:
            pids.update(process_tree(root, tree) if self.descendants else [root])
        return {pid: process_cpu_seconds(pid, reaped_children=pid in roots) for pid in pids}

    def pids(self, tree) -> list[int]:
        return list(self.read(tree))

    @property
    def cpu(self) -> float:
        return sum(value - self.start.get(pid, 0.0) for pid, value in self.end.items())


def sample(costs: list[Cost], *, start: bool) -> None:
    tree = children_map()
    for cost in costs:
        if start:
            cost.start = cost.read(tree)
            cost.end = {}
        else:
            for pid, value in cost.read(tree).items():
                cost.end[pid] = value
                cost.start.setdefault(pid, 0.0)  # new since the start: all of it counts


def database_backends(db: str):
    """The PostgreSQL backends connected to `db`, but not the bench's own."""

    def lister() -> list[int]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [db],
            )
            return [row[0] for row in cursor.fetchall()]

    return lister


# --- setup ----------------------------------------------------------------------


def base_env(args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "uptime.settings",
        "UPTIME_ALLOW_PRIVATE_TARGETS": "1",
        "UPTIME_DATA_DIR": str(data_dir),
        "UPTIME_ENV_FILE": "",
        "SECRET_KEY": "bench-only-secret-key",
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
        "UPTIME_API_RATE_USER": "100000/min",
    }
    for name in ("CELERY_TASK_ALWAYS_EAGER", "SLACK_WEBHOOK_URL", "DATABASE_URL"):
        env.pop(name, None)
    env.pop("CELERY_BROKER_URL", None)
    if args.mode == "production":
        env["DATABASE_URL"] = database_url(args.db)
        env["CELERY_BROKER_URL"] = args.redis_url
    for item in args.env:
        name, _, value = item.partition("=")
        env[name] = value
    return env


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()


def prepare_database(args: argparse.Namespace) -> str:
    """Migrate; return an API key of a user who owns a personal project."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from teams.tokens import token_create

    if args.mode == "production":
        flush_redis(args.redis_url)
        create_database(args.db)
    call_command("migrate", verbosity=0, interactive=False)
    user = get_user_model().objects.create_user(username=USERNAME, password="small-end-bench")
    _, key = token_create(user=user, name="small end benchmark")
    return key


def start_processes(procs: ProcessSet, args: argparse.Namespace, port: int) -> dict:
    """The Procfile's processes; root pids by name ('honcho' in make-run mode)."""
    if args.mode == "make-run":
        honcho = procs.start(
            "honcho",
            [str(BIN / "honcho"), "--procfile", procfile(args), "start", "--port", str(port)],
        )
        roots = {"honcho": [honcho.pid]}
    else:
        roots = {
            name: [procs.start(name, argv).pid] for name, argv in procfile_commands(port).items()
        }
    wait_for_port(port, timeout=60)
    log = "honcho" if args.mode == "make-run" else "worker"
    deadline = time.monotonic() + 90
    while " ready." not in procs.tail(log, 1_000_000):
        procs.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker was not ready in 90 s:\n{procs.tail(log)}")
        time.sleep(0.2)
    return roots


def honcho_child(roots: dict, name: str):
    """In make-run mode, the process honcho started for a Procfile line."""

    def lister() -> list[int]:
        tree = children_map()
        found = []
        for pid in process_tree(roots["honcho"][0], tree)[1:]:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if cmdline.startswith(b"/bin/sh"):
                continue  # honcho's shell: its child is the process
            if (name == "web" and b"gunicorn" in cmdline) or (
                name != "web" and f" {name} ".encode() in cmdline
            ):
                found.append(pid)
        # A pool process or a gunicorn worker counts under its parent.
        return [pid for pid in found if not any(pid in tree.get(other, []) for other in found)]

    return lister


def add_sites(
    web_url: str, key: str, args: argparse.Namespace, target_urls: list[str], ca_pem: str = ""
) -> float:
    """POST every site through the API (4 at a time); returns the seconds it took."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {key}"
    trust = {"caBundle": ca_pem} if ca_pem else {}

    def post(i: int) -> None:
        answer = session.post(
            f"{web_url}/api/site",
            json={
                "url": target_urls[i % len(target_urls)] + f"/s/{i}",
                "interval": args.interval,
                "timeout": min(args.timeout, args.interval),
                **trust,
            },
            timeout=30,
        )
        if answer.status_code != 201:
            raise RuntimeError(f"POST /api/site answered {answer.status_code}: {answer.text}")

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post, range(args.sites)))
    return time.monotonic() - started


def checks_between(w0: datetime, w1: datetime) -> tuple[int, int]:
    from monitor.models import Check

    window = Check.objects.filter(checked_at__gte=w0, checked_at__lt=w1)
    return window.count(), window.filter(up=False).count()


# --- the run --------------------------------------------------------------------


def measure(costs: list[Cost], seconds: float, procs: ProcessSet) -> tuple[datetime, datetime]:
    sample(costs, start=True)
    w0 = datetime.now(UTC)
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 2))
        procs.check_alive()
        sample(costs, start=False)
    return w0, datetime.now(UTC)


def process_costs(args: argparse.Namespace, roots: dict) -> list[Cost]:
    if args.mode == "make-run":
        names = procfile_commands(0, procfile(args))
        costs = [Cost(name, honcho_child(roots, name)) for name in names]
        costs.append(Cost("honcho itself", lambda: roots["honcho"], descendants=False))
    else:
        costs = [Cost(name, lambda name=name: roots[name]) for name in ("web", "worker", "beat")]
        costs.append(Cost("postgres: this database", database_backends(args.db), False))
        costs.append(Cost("postgres: all processes", lambda: pgrep("postgres"), False))
        costs.append(Cost("redis-server", lambda: pgrep("redis-server"), False))
    return costs


def counted(cost: Cost) -> bool:
    """Whether a cost is part of the total (not the server-wide PostgreSQL view)."""
    return cost.name != "postgres: all processes"


def print_costs(costs: list[Cost], seconds: float, checks: int | None) -> None:
    total = 0.0
    for cost in costs:
        per_check = f"{cost.cpu * 1000 / checks:7.3f} ms/check" if checks else ""
        total += cost.cpu if counted(cost) else 0.0
        note = "" if counted(cost) else "  (not in the total: the whole server)"
        print(
            f"    {cost.name:<26} {cost.cpu:7.2f} CPU s  {cost.cpu / seconds:6.2%} of a core"
            f"  {per_check}{note}"
        )
    per_check = f", {total * 1000 / checks:.3f} ms per check" if checks else ""
    print(f"    {'total':<26} {total:7.2f} CPU s  {total / seconds:6.2%} of a core{per_check}")


def print_memory(costs: list[Cost]) -> None:
    tree = children_map()
    total = 0
    parts = []
    for cost in costs:
        if cost.name.startswith(("postgres", "redis")):
            continue
        pids = cost.pids(tree)
        pss = sum(pss_bytes(pid) for pid in pids)
        total += pss
        parts.append(f"{cost.name} {pss / 2**20:.0f} MiB ({len(pids)} processes)")
    print(f"  memory (PSS)   {total / 2**20:.0f} MiB together: " + ", ".join(parts))


def run(args: argparse.Namespace, procs: ProcessSet, tmp: Path) -> None:
    target_urls = start_target(procs, args, tmp)
    key = prepare_database(args)
    port = free_port()
    roots = start_processes(procs, args, port)
    costs = process_costs(args, roots)
    print(f"{args.mode}: {' '.join(procfile_commands(port, procfile(args)))} up", flush=True)
    time.sleep(10)  # start-up work (beat's schedule sync, the first ticks) is not idling
    if args.idle_seconds:
        measure(costs, args.idle_seconds, procs)
        print(f"\nidle, no monitors, {args.idle_seconds:g} s:")
        print_costs(costs, args.idle_seconds, None)
        print_memory(costs)
    ca_pem = (tmp / "target-cert.pem").read_text() if args.https else ""
    took = add_sites(f"http://127.0.0.1:{port}", key, args, target_urls, ca_pem)
    print(f"\nadded {args.sites:,} sites through POST /api/site in {took:.1f} s", flush=True)
    time.sleep(args.warmup)
    w0, w1 = measure(costs, args.seconds, procs)
    time.sleep(args.timeout + 3)  # checks started in the window are recorded
    checks, down = checks_between(w0, w1)
    window = (w1 - w0).total_seconds()
    print(
        f"\n{args.sites:,} sites every {args.interval} s ({args.sites / args.interval:g} checks/s "
        f"asked), target {describe_target(args)}, window {window:.0f} s: {checks:,} checks "
        f"({checks / window:.1f}/s, {down:,} down)"
    )
    print_costs(costs, window, checks)
    print_memory(costs)


def start_target(procs: ProcessSet, args: argparse.Namespace, tmp: Path) -> list[str]:
    """Start the target; return the base URLs the sites are spread over."""
    port = free_port()
    cert = tmp / "target-cert.pem" if args.https else None
    argv = target_argv(port, latency_ms=args.latency_ms, fail_share=0.0, tls_cert_out=cert)
    if args.target == "mix":
        black_hole = free_port()
        argv += ["--mix", "--black-hole-port", str(black_hole)]
    procs.start("target", argv)
    wait_for_port(port)
    urls = [f"{'https' if args.https else 'http'}://127.0.0.1:{port}"]
    if args.target == "mix":
        # One site in MIX_BLACK_HOLE_EVERY goes to the listener that never accepts.
        from bench.target import MIX_BLACK_HOLE_EVERY

        urls = urls * (MIX_BLACK_HOLE_EVERY - 1) + [f"http://127.0.0.1:{black_hole}"]
    return urls


def describe_target(args: argparse.Namespace) -> str:
    if args.target == "mix":
        from bench.target import describe_mix

        return describe_mix()
    scheme = "HTTPS" if args.https else "HTTP"
    return f"{scheme}, answering in {args.latency_ms:g} ms"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    stop_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="uptime-small-end-") as tmp:
        tmp_path = Path(tmp)
        data_dir = tmp_path / "data"
        (data_dir / "static").mkdir(parents=True)  # whitenoise warns without it
        env = base_env(args, data_dir)
        setup_django(**{k: env[k] for k in env if k.startswith(("UPTIME_", "DATABASE_", "CEL"))})
        procs = ProcessSet(env, tmp_path)
        print(f"{args.mode} mode, logs in {tmp}", flush=True)
        try:
            run(args, procs, tmp_path)
        finally:
            procs.stop_all()
            if args.keep_logs:
                kept = Path(tempfile.mkdtemp(prefix="uptime-small-end-logs-"))
                for log in tmp_path.glob("*.log"):
                    log.rename(kept / log.name)
                print(f"kept the logs in {kept}")
            if args.mode == "production":
                drop_database(args.db)
                flush_redis(args.redis_url)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: every process started here is stopped")
        raise SystemExit(130) from None
