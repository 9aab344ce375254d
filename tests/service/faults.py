"""Tools for breaking things on purpose: a private Redis, the machine's
PostgreSQL, a web server process, slow targets and process surgery.

Cases that restart or stop Redis get a private redis-server of their own (on
a free port, no persistence, like production's), so the machine's Redis is
never touched. PostgreSQL is the machine's cluster, restarted or stopped with
pg_ctlcluster exactly as .ci/run starts it; each such case starts it again
before it ends, whatever happens.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from django.db import connection
from pytest_httpserver import HTTPServer
from werkzeug import Response

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own, on a free port, keeping nothing on disk."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
            ],
            stdout=open(self.workdir / "redis.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    return
            time.sleep(0.05)
        pytest.fail(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        """Die at once, losing every message (no persistence)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.kill()
        self.start()

    def pause(self) -> None:
        """Hang: connections stay open, nothing is answered (SIGSTOP)."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def queued(self, queue: str = "celery") -> int:
        return redis.Redis(port=self.port).llen(queue)

    def close(self) -> None:
        if self.process and self.process.poll() is None:
            self.resume()
            self.kill()


def pg_ctl(action: str) -> None:
    """Stop, start or restart the machine's PostgreSQL cluster."""
    version = os.listdir("/etc/postgresql")[0]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    if action in ("stop", "restart"):
        command += ["-m", "fast"]  # disconnect clients, roll back their transactions
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    if action != "stop":
        wait_for_postgres()
    # This process's own connection died with the server.
    connection.close()


def wait_for_postgres(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0:
            return
        time.sleep(0.2)
    pytest.fail("PostgreSQL did not come back")


@contextlib.contextmanager
def postgres_comes_back():
    """Whatever a case does to PostgreSQL, it is running again afterwards."""
    try:
        yield
    finally:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode != 0:
            pg_ctl("start")


def raw_postgres_connection() -> psycopg.Connection:
    """A connection of the test's own, outside Django (to hold locks)."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    )


def pool_children(pid: int) -> list[int]:
    """The worker's pool processes (its direct children)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


class WebServer:
    """The web app as its own gunicorn process, answering on a free port."""

    def __init__(self, processes, token: str):
        self.processes = processes
        self.port = free_port()
        self.token = token

    def start(self) -> None:
        self.processes.run(
            "web",
            sys.executable, "-m", "gunicorn", "uptime.wsgi",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", "1", "--threads", "4", "--timeout", "120",
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                requests.get(self.url("/healthz"), timeout=2)
                return
            time.sleep(0.1)
        pytest.fail("the web server did not start")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def api(self, method: str, path: str, timeout: float = 60) -> requests.Response:
        return requests.request(
            method,
            self.url(path),
            headers={"Authorization": f"Token {self.token}"},
            timeout=timeout,
        )


class SlowTarget:
    """A site that answers after `delay` seconds with `status`, counting requests.

    Threaded, so many checks can wait on it at once.
    """

    def __init__(self, delay: float = 0.0, status: int = 200):
        self.delay = delay
        self.status = status
        self.requests = 0
        self._lock = threading.Lock()
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request("/health").respond_with_handler(self._answer)

    def _answer(self, request):
        with self._lock:
            self.requests += 1
        time.sleep(self.delay)
        return Response("ok" if self.status < 400 else "failing", status=self.status)

    def url(self, n: int | None = None) -> str:
        url = self.server.url_for("/health")
        return url if n is None else f"{url}?n={n}"

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.clear()
        self.server.stop()
