"""Benchmark: does the web app keep answering while slow pings are in flight?

Starts gunicorn as the Procfile does (2 workers x 4 threads, DEBUG off) on a
scratch SQLite database, and a local target that answers every request after
--latency-ms. Fires --pings concurrent GET /api/ping/<target> with one valid
token, and meanwhile times GET /healthz back to back until every ping has
been answered. Prints /healthz p50/p99/max and how the pings were answered.

    .venv/bin/python bench/healthz_under_pings.py
    .venv/bin/python bench/healthz_under_pings.py --uncapped   # as before issue 9

--uncapped lifts the probe rate and caps (UPTIME_PROBE_RATE, UPTIME_PROBES_*)
to show what the caps prevent. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BIN,
    ROOT,
    ProcessSet,
    free_port,
    percentile,
    target_argv,
    wait_for_port,
)

UNCAPPED = {
    "UPTIME_PROBE_RATE": "1000000/min",
    "UPTIME_PROBES_PER_USER": "1000000",
    "UPTIME_PROBES_GLOBAL": "1000000",
    "UPTIME_PROBES_PER_PROCESS": "1000000",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pings", type=int, default=50, help="concurrent slow pings")
    parser.add_argument("--latency-ms", type=float, default=8000, help="the target's delay")
    parser.add_argument("--uncapped", action="store_true", help="lift the probe caps")
    return parser.parse_args()


def make_token(env: dict[str, str]) -> str:
    """Migrate the scratch database and make a user and a token; print the key."""
    code = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0, interactive=False)\n"
        "from django.contrib.auth import get_user_model\n"
        "from teams.tokens import token_create\n"
        "user = get_user_model().objects.create_user('bench', password='bench-pass-not-secret')\n"
        "print(token_create(user=user, name='bench')[1])\n"
    )
    done = subprocess.run(
        [str(BIN / "python"), "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"setting up the database failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    args = parse_args()
    data_dir = tempfile.mkdtemp(prefix="uptime-bench-healthz-")
    (Path(data_dir) / "static").mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="uptime.settings",
        UPTIME_ENV_FILE="",
        UPTIME_DATA_DIR=data_dir,
        SECRET_KEY="bench-only-secret-key",
        UPTIME_ALLOW_PRIVATE_TARGETS="1",
        LOG_LEVEL="WARNING",
    )
    if args.uncapped:
        env.update(UNCAPPED)
    token = make_token(env)
    web_port, target_port = free_port(), free_port()
    with ProcessSet(env, Path(data_dir)) as processes:
        processes.start(
            "target",
            target_argv(target_port, latency_ms=args.latency_ms, fail_share=0.0, max_seconds=600),
        )
        processes.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "uptime.wsgi",
                "--bind",
                f"127.0.0.1:{web_port}",
                "--workers",
                "2",
                "--threads",
                "4",
            ],
        )
        wait_for_port(target_port)
        wait_for_port(web_port, timeout=30)
        base = f"http://127.0.0.1:{web_port}"
        for _ in range(20):  # warm-up: both workers loaded
            requests.get(f"{base}/healthz", timeout=10)
        run(base, token, target_port, args)
        processes.check_alive()


def run(base: str, token: str, target_port: int, args: argparse.Namespace) -> None:
    headers = {"Authorization": f"Token {token}"}
    statuses: collections.Counter = collections.Counter()
    done = threading.Event()

    def one_ping(i: int) -> None:
        url = f"{base}/api/ping/http://127.0.0.1:{target_port}/s/{i}"
        try:
            statuses[requests.get(url, headers=headers, timeout=120).status_code] += 1
        except requests.RequestException as exc:
            statuses[type(exc).__name__] += 1

    healthz: list[float] = []

    def time_healthz() -> None:
        while not done.is_set():
            started = time.perf_counter()
            requests.get(f"{base}/healthz", timeout=120)
            healthz.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)

    timer = threading.Thread(target=time_healthz)
    started = time.monotonic()
    with ThreadPoolExecutor(args.pings) as pool:
        timer.start()
        list(pool.map(one_ping, range(args.pings)))
    done.set()
    timer.join()
    elapsed = time.monotonic() - started

    healthz.sort()
    caps = "uncapped" if args.uncapped else "capped (defaults)"
    print(f"{args.pings} concurrent pings of a target answering after {args.latency_ms:g} ms,")
    print(f"gunicorn 2 workers x 4 threads, probes {caps}; all answered in {elapsed:.1f} s")
    print(
        f"  /healthz while in flight: n={len(healthz)}  p50={percentile(healthz, 0.5):.1f} ms  "
        f"p99={percentile(healthz, 0.99):.1f} ms  max={healthz[-1]:.1f} ms"
    )
    print(
        "  pings answered: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str))
    )


if __name__ == "__main__":
    main()
