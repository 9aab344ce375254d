"""The benchmark harness works: the target answers as configured and the
ceiling's measuring function produces sane figures. No timing is asserted
beyond what the target is configured to do (answer after its latency, without
serialising requests)."""

import concurrent.futures
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from bench.ceiling import run_probes
from bench.common import free_port, target_argv, wait_for_port
from bench.target import is_failing

LATENCY_MS = 200
FAIL_SHARE = 0.5


@pytest.fixture
def target():
    port = free_port()
    process = subprocess.Popen(
        target_argv(port, latency_ms=LATENCY_MS, fail_share=FAIL_SHARE, max_seconds=60),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(10)


def fetch(url: str) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, time.monotonic() - started


def test_the_target_answers_every_path_after_its_latency_failing_a_fixed_share(target):
    _, base = target
    paths = [f"/s/{i}" for i in range(20)]
    with concurrent.futures.ThreadPoolExecutor(len(paths)) as pool:
        started = time.monotonic()
        answers = list(pool.map(fetch, [base + path for path in paths]))
        together = time.monotonic() - started

    statuses = [status for status, _ in answers]
    assert statuses == [503 if is_failing(path, FAIL_SHARE) else 200 for path in paths]
    assert {200, 503} <= set(statuses)
    assert all(elapsed >= LATENCY_MS / 1000 * 0.9 for _, elapsed in answers)
    # Twenty answers each held 200 ms came back together, not one after another.
    assert together < len(paths) * LATENCY_MS / 1000 / 2
    # The same path is consistently up or down.
    assert fetch(base + paths[0])[0] == statuses[0]


def test_the_failure_share_is_close_to_the_one_asked_for():
    failing = sum(is_failing(f"/s/{i}", 0.05) for i in range(20_000))
    assert 0.04 < failing / 20_000 < 0.06
    assert not any(is_failing(f"/s/{i}", 0) for i in range(1000))


def test_the_target_reports_what_it_served_when_stopped(target):
    process, base = target
    for i in range(3):
        fetch(f"{base}/s/{i}")
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)
    assert "served 3 requests" in output
    assert "CPU s" in output


def test_the_ceiling_probes_every_url_and_reports_figures(target):
    _, base = target
    figures = run_probes(base, sites=5, seconds=30, count=20, batch=10, concurrency=10)

    assert figures.checks == 20
    expected_down = 4 * sum(is_failing(f"/s/{i}", FAIL_SHARE) for i in range(5))
    assert figures.checks - figures.up == expected_down
    assert figures.kinds == ({"http_status": expected_down} if expected_down else {})
    assert len(figures.response_ms) == 20
    assert min(figures.response_ms) >= LATENCY_MS * 0.9
    assert figures.checks_per_second > 0
    assert figures.cpu_ms_per_check > 0
    lines = figures.lines()
    assert any(line.startswith("throughput") for line in lines)
    assert any("p99" in line for line in lines)


def test_the_ceiling_refuses_a_loop_without_an_end():
    with pytest.raises(ValueError):
        run_probes("http://127.0.0.1:9", sites=1, seconds=None, count=None, batch=1, concurrency=1)
