"""bench/pipeline.py runs end to end on a very small load and prints its figures.

It makes its own scratch database (uptime_bench_smoke) and uses Redis db 14,
so it shares nothing with the rest of the service suite. No timing is
asserted: only that the harness ran, measured checks and cleaned up.
"""

import re
import subprocess
import sys

from tests.service.conftest import REPO

DB = "uptime_bench_smoke"


def test_the_pipeline_benchmark_runs_a_small_load_and_reports_its_figures():
    done = subprocess.run(
        [
            sys.executable, str(REPO / "bench" / "pipeline.py"),
            "--sites", "50", "--interval", "10", "--seconds", "20", "--warmup", "10",
            "--ceiling-seconds", "2", "--ceiling-processes", "1", "--no-web", "--db", DB,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output

    checks = int(re.search(r"checks in window\s+([\d,]+)", output)[1].replace(",", ""))
    assert checks > 0, output
    for label in ("throughput", "lateness", "pipeline CPU", "database", "against ceiling"):
        assert re.search(rf"^\s+{label}\s", output, re.MULTILINE), (label, output)
    assert "worker (with its pool)" in output

    databases = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SELECT datname FROM pg_database"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert DB not in databases
