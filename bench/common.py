"""Helpers shared by the benchmark scripts: Django setup, ports, percentiles,
and CPU and memory read from /proc for whole process trees.

Everything here talks to 127.0.0.1 only.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
BENCH_REDIS_URL = "redis://127.0.0.1:6379/14"  # the benchmarks' own Redis db; never another
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def setup_django(**env: str) -> None:
    """Configure and start Django in this process (settings from the environment)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "uptime.settings"  # the production settings
    os.environ.setdefault("UPTIME_ALLOW_PRIVATE_TARGETS", "1")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port} within {timeout:g} s")


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(math.ceil(fraction * len(sorted_values)), 1)
    return sorted_values[rank - 1]


# --- /proc ----------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone, or not ours to read
        return None
    # The command name (field 2) may contain spaces and parentheses.
    return raw[raw.rindex(")") + 2 :].split()


def process_cpu_seconds(pid: int, *, reaped_children: bool = True) -> float:
    """utime + stime (and, by default, the reaped children's cutime + cstime)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # After "pid (comm)": state is index 0, utime 11, stime 12, cutime 13, cstime 14.
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def children_map() -> dict[int, list[int]]:
    """Parent pid → child pids, for every process on the machine."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def process_tree(root: int, tree: dict[int, list[int]] | None = None) -> list[int]:
    tree = tree if tree is not None else children_map()
    pids, queue = [], [root]
    while queue:
        pid = queue.pop()
        pids.append(pid)
        queue.extend(tree.get(pid, ()))
    return pids


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the most resident memory the process has had (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pgrep(name: str) -> list[int]:
    """Pids whose command name is exactly `name`."""
    found = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


@dataclass
class Group:
    """A named set of processes whose CPU is summed: given roots (with all their
    descendants) and/or a function that lists pids afresh at each sample.

    A process's own utime+stime plus the cutime+cstime of the children it has
    reaped is monotonic across a child's exit, so the difference of two sums
    counts children that ended in between (e.g. PostgreSQL backends, reaped
    by the postmaster)."""

    name: str
    roots: list[int] = field(default_factory=list)
    lister: object = None  # callable returning pids, sampled at every read
    include_descendants: bool = True
    start: dict[int, float] = field(default_factory=dict)
    end: dict[int, float] = field(default_factory=dict)
    peak_rss: dict[int, int] = field(default_factory=dict)

    def sample(self, tree: dict[int, list[int]]) -> dict[int, float]:
        top = set(self.roots) | (set(self.lister()) if self.lister else set())
        pids: set[int] = set()
        for root in top:
            pids.update(process_tree(root, tree) if self.include_descendants else [root])
        for pid in pids:
            self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), peak_rss_bytes(pid))
        # Only the top processes count reaped children: a pool child's own
        # children would otherwise be counted twice once reaped.
        return {pid: process_cpu_seconds(pid, reaped_children=pid in top) for pid in pids}

    @property
    def cpu(self) -> float:
        return sum(self.end.values()) - sum(self.start.values())

    @property
    def largest_rss(self) -> int:
        return max(self.peak_rss.values(), default=0)

    @property
    def total_rss(self) -> int:
        return sum(self.peak_rss.values())


def sample_groups(groups: list[Group], *, at_start: bool | None) -> None:
    """Read every group's CPU as the window's start (True) or end (False);
    None only updates the peak RSS."""
    tree = children_map()
    for group in groups:
        values = group.sample(tree)
        if at_start is True:
            group.start = values
        elif at_start is False:
            group.end = values


# --- processes ------------------------------------------------------------------


class ProcessSet:
    """Child processes started in their own sessions, stopped together (also on
    Ctrl-C or an error: use as a context manager)."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen] = {}

    def __enter__(self) -> ProcessSet:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")  # closed below; the child keeps its copy
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()  # the child has its own copy
        self.running[name] = process
        return process

    def check_alive(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self, name: str, *, timeout: float = 15.0) -> None:
        process = self.running.pop(name)
        if process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop_all(self) -> None:
        for name in reversed(list(self.running)):
            self.stop(name)


def pg_cli(command: str, *args: str) -> None:
    """Run createdb/dropdb/psql against the local server as postgres."""
    argv = [command, "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], *args]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")


def database_url(db: str) -> str:
    return f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{db}"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def target_argv(
    port: int,
    *,
    latency_ms: float,
    fail_share: float,
    processes: int = 1,
    tls_cert_out: Path | None = None,
    max_seconds: float = 4 * 3600,
) -> list[str]:
    """The command line that starts bench/target.py. UPTIME_BENCH_TARGET_PYTHON
    picks another interpreter for it (the target needs only the standard
    library, and uses uvloop when that interpreter has it)."""
    python = os.environ.get("UPTIME_BENCH_TARGET_PYTHON") or str(BIN / "python")
    argv = [
        python,
        str(ROOT / "bench" / "target.py"),
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
        "--fail-share",
        str(fail_share),
        "--processes",
        str(processes),
        "--max-seconds",
        str(max_seconds),
    ]
    if tls_cert_out is not None:
        argv += ["--tls", "--cert-out", str(tls_cert_out)]
    return argv
