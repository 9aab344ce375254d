"""The file-system broker (uptime/broker.py): every message arrives exactly
once under concurrent publishers and consumers, and a malformed message file
never stops a consumer."""

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from queue import Empty

import pytest
from celery import Celery
from kombu import Connection

REPO = Path(__file__).resolve().parents[1]
TRANSPORT = "uptime.broker:Transport"
PUBLISHERS = 4
PER_PUBLISHER = 1000
CONSUMERS = 3


def broker_options(root: Path) -> dict:
    for sub in ("queue", "processed", "control"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(root / "queue"),
        "data_folder_out": str(root / "queue"),
        "processed_folder": str(root / "processed"),
        "control_folder": str(root / "control"),
    }


def connection(root: Path) -> Connection:
    return Connection("filesystem://", transport=TRANSPORT, transport_options=broker_options(root))


def publish(root: Path, publisher: int) -> None:
    with connection(root) as conn:
        queue = conn.SimpleQueue("load")
        for n in range(PER_PUBLISHER):
            queue.put({"id": f"{publisher}-{n}"})
        queue.close()


def consume(root: Path, publishing_done, received) -> None:
    """Drain until the publishers are done and the queue stays empty."""
    got = []
    with connection(root) as conn:
        queue = conn.SimpleQueue("load")
        while True:
            try:
                message = queue.get(timeout=0.5)
            except Empty:
                if publishing_done.is_set():
                    break
                continue
            got.append(message.payload["id"])
            message.ack()
        queue.close()
    received.put(got)


@pytest.mark.timeout(180)
def test_every_message_of_concurrent_publishers_arrives_exactly_once(tmp_path):
    context = multiprocessing.get_context("fork")
    publishing_done = context.Event()
    received = context.Queue()
    consumers = [
        context.Process(target=consume, args=(tmp_path, publishing_done, received))
        for _ in range(CONSUMERS)
    ]
    publishers = [context.Process(target=publish, args=(tmp_path, p)) for p in range(PUBLISHERS)]
    for process in consumers + publishers:
        process.start()
    for process in publishers:
        process.join()
    publishing_done.set()
    results = [received.get(timeout=120) for _ in consumers]
    for process in consumers:
        process.join()

    ids = [message_id for got in results for message_id in got]
    expected = {f"{p}-{n}" for p in range(PUBLISHERS) for n in range(PER_PUBLISHER)}
    assert all(process.exitcode == 0 for process in consumers + publishers)
    assert len(ids) == len(expected)  # none twice
    assert set(ids) == expected  # none lost
    # The consumers really did run side by side (one may be starved on a
    # loaded machine; two sharing the work is the point).
    assert sum(1 for got in results if got) >= 2
    assert not list((tmp_path / "queue").iterdir())  # no half-written leftovers


def plant_malformed_files(queue_dir: Path, queue: str) -> None:
    # Named to sort before any real message, so the consumer meets them first.
    (queue_dir / f"0_a_empty.{queue}.msg").write_bytes(b"")
    (queue_dir / f"0_b_truncated.{queue}.msg").write_bytes(b'{"body": "eyJ')
    (queue_dir / f"0_c_not-a-message.{queue}.msg").write_bytes(b'["json", "but no properties"]')


def test_a_consumer_sets_malformed_files_aside_and_still_gets_the_good_messages(tmp_path, caplog):
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue("jobs")
        queue.put({"n": 1})
        plant_malformed_files(tmp_path / "queue", "jobs")
        queue.put({"n": 2})

        with caplog.at_level(logging.WARNING, logger="uptime.broker"):
            got = []
            for _ in range(2):
                message = queue.get(timeout=10)  # generous: a loaded machine
                got.append(message.payload["n"])
                message.ack()
            with pytest.raises(Empty):
                queue.get(timeout=0.2)
        queue.close()

    assert got == [1, 2]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert all("malformed broker message" in w for w in warnings)
    rejected = sorted(p.name for p in (tmp_path / "processed" / "rejected").iterdir())
    assert rejected == [
        "0_a_empty.jobs.msg",
        "0_b_truncated.jobs.msg",
        "0_c_not-a-message.jobs.msg",
    ]
    assert not list((tmp_path / "queue").iterdir())


@pytest.mark.timeout(90)
def test_a_celery_worker_survives_a_malformed_message_and_runs_the_next_task(tmp_path):
    data = tmp_path / "data"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "uptime.settings",
        "UPTIME_DATA_DIR": str(data),
        "UPTIME_DOTENV": "0",
        "SECRET_KEY": "broker-test",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("CELERY_BROKER_URL", "DATABASE_URL", "CELERY_TASK_ALWAYS_EAGER"):
        env.pop(name, None)
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "--app", "uptime", "worker", "--loglevel", "INFO",
             "--pool", "solo", "--without-gossip", "--without-mingle", "--include",
             "tests.broker_tasks"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        app = Celery(
            broker="filesystem://",
            broker_transport=TRANSPORT,
            broker_transport_options=broker_options(data / "broker"),
        )
        plant_malformed_files(data / "broker" / "queue", "celery")
        ran = tmp_path / "ran"
        app.send_task("tests.broker_tasks.touch", args=[str(ran)])

        deadline = time.monotonic() + 60
        while not ran.exists() and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        output = log_path.read_text(errors="replace")
        assert worker.poll() is None, output
        assert ran.exists(), output
        assert output.count("malformed broker message") == 3, output
        assert "Unrecoverable error" not in output
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
