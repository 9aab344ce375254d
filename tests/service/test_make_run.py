"""`make run` started as a user would, then Ctrl-C: web and worker (beat inside) stop
on their own (exit 0), no pool process is killed mid-task and honcho never
has to SIGKILL anything. Runs on the embedded defaults (SQLite, file-system
broker) in a data dir of its own."""

import os
import signal
import socket
import subprocess
import time

import pytest

from tests.service.conftest import REPO, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(240)
def test_ctrl_c_on_make_run_stops_every_process_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UPTIME_", "CELERY_"))}
    env.pop("DATABASE_URL", None)
    env.update(UPTIME_DATA_DIR=str(tmp_path / "data"), UPTIME_ENV_FILE="", PYTHONUNBUFFERED="1")
    log_path = tmp_path / "make-run.log"
    with open(log_path, "wb") as log:
        # Its own session, like a terminal's foreground job: Ctrl-C reaches
        # make, its shell and honcho, not the processes honcho starts.
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={free_port()}"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    output = lambda: log_path.read_text(errors="replace")  # noqa: E731
    try:
        wait_for(
            lambda: "ready." in output() and "Listening at" in output(),
            timeout=120,
            what="web and worker (with beat inside) to start",
        )
        time.sleep(3)  # a few dispatcher ticks go through the worker
        stopping = time.monotonic()
        os.killpg(make.pid, signal.SIGINT)
        returncode = make.wait(timeout=60)
        print(f"make run stopped {time.monotonic() - stopping:.1f} s after Ctrl-C")
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()

    text = output()
    # make itself got the Ctrl-C too, and ends by it, silently, once its
    # recipe has finished; a failed recipe would make it print "make: ***".
    assert returncode in (0, -signal.SIGINT), text
    assert "make: ***" not in text, text
    for name in ("web", "worker"):  # Procfile.run: beat runs inside the worker
        assert f"{name}.1 stopped (rc=0)" in text, text
    assert "SIGKILL" not in text, text
    assert "exited with 'signal" not in text, text  # a pool process killed mid-task
    assert "ERROR" not in text, text
