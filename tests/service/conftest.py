"""The service suite: real PostgreSQL, Redis, Celery worker and beat processes.

Run with `make test-service`. Missing services fail the suite (they never
skip it): the point of these tests is that the real parts work together.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tests.conftest import slack_channel_in_every_project

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("UPTIME_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Log lines worth showing however far from the end they are.
SERIOUS = re.compile(r"\b(ERROR|CRITICAL|Unrecoverable)\b|^\w*(Error|Exception):")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.service)


@pytest.fixture(scope="session", autouse=True)
def require_services():
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql":
        pytest.fail(f"the service suite needs DATABASE_URL=postgres://…; it got {engine}")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"the service suite needs Redis at {REDIS_URL}: {exc}")


def wait_for(predicate, *, timeout: float, what: str, every: float = 0.25):
    """Poll predicate until it returns something truthy, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


class Target:
    """A local site whose answer the test switches between up and down."""

    def __init__(self):
        self.status = 200
        self.body = None  # the answer's text; "ok" or "failing" by status if None
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request("/health").respond_with_handler(self._answer)

    def _answer(self, request) -> Response:
        text = self.body or ("ok" if self.status < 400 else "failing")
        return Response(text, status=self.status)

    @property
    def url(self) -> str:
        return self.server.url_for("/health")


@pytest.fixture
def target():
    target = Target()
    target.server.start()
    yield target
    target.server.clear()
    target.server.stop()


@pytest.fixture
def slack(transactional_db):
    """The Slack stand-in: records every message it receives and answers 200.

    Every project of the test gets a Slack channel to it."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.expect_request("/hook", method="POST").respond_with_data("ok")
    server.start()
    with slack_channel_in_every_project(server.url_for("/hook")):
        yield server
    server.clear()
    server.stop()


def slack_texts(server: HTTPServer) -> list[str]:
    return [request.get_json()["text"] for request, _ in server.log]


def deliveries(transition) -> list[tuple[str, str]]:
    """Where a transition's alert went: (channel kind, its Notification's status) each.

    A transition's own notification_status says only that it was routed
    ("sent") or why not; each channel's delivery is its Notification's.
    """
    notifications = transition.notifications.select_related("channel")
    return sorted((n.channel.kind, n.status) for n in notifications)


class RecordingWebhook:
    """A receiver for the generic `webhook` channel kind: keeps every JSON body it
    receives, in order, and answers 200 unless the test sets `answer`, a function
    of the request's number (0-based) returning the status to answer."""

    def __init__(self):
        self.answer = lambda n: 200
        self.bodies: list[dict] = []
        self.statuses: list[int] = []  # what each request was answered
        self.arrivals: list[float] = []  # time.monotonic() of each arrival
        self._lock = threading.Lock()
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request("/uptime", method="POST").respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/uptime")

    def _handle(self, request) -> Response:
        with self._lock:
            status = self.answer(len(self.bodies))
            self.bodies.append(request.get_json())
            self.statuses.append(status)
            self.arrivals.append(time.monotonic())
        return Response("" if status == 200 else "trouble", status=status)

    def received_for(self, site_id: int) -> list[dict]:
        """The bodies about one monitor, answered 200 or not."""
        with self._lock:
            return [body for body in self.bodies if body["monitor"]["id"] == site_id]

    def delivered(self) -> list[dict]:
        """The bodies answered 200."""
        with self._lock:
            return [
                b for b, status in zip(self.bodies, self.statuses, strict=True) if status == 200
            ]


@pytest.fixture
def webhook():
    receiver = RecordingWebhook()
    receiver.server.start()
    yield receiver
    receiver.server.clear()
    receiver.server.stop()


class Processes:
    """Celery worker and beat, started as real processes against the test database."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str, env: dict | None = None) -> subprocess.Popen:
        """Start a Celery process (celery --app uptime …), with `env` on top of the suite's."""
        return self.run(name, sys.executable, "-m", "celery", "--app", "uptime", *args, env=env)

    def run(self, name: str, *argv: str, env: dict | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running[name] = process
        return process

    def worker(
        self, name: str = "worker", concurrency: int = 2, *extra: str, env: dict | None = None
    ) -> subprocess.Popen:
        return self.start(
            name,
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"{name}@%h",
            *extra,
            env=env,
        )

    def beat(self, name: str = "beat") -> subprocess.Popen:
        return self.start(name, "beat", "--loglevel", "INFO")

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        """Signal the whole process group and wait; SIGKILL it if it lingers."""
        process = self.running.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def logs(self) -> str:
        """Each process's log: its last lines, then its errors (a
        traceback's head can be far from the end)."""
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            text = path.read_text(errors="replace")
            errors = [line for line in text.splitlines() if SERIOUS.search(line)][-20:]
            parts.append(f"--- {path.name}: last lines\n{text[-4000:]}")
            parts.append(f"--- {path.name}: errors\n" + "\n".join(errors))
        return "\n".join(parts)


def database_url() -> str:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def processes(transactional_db, slack, tmp_path, request):
    """Depends on transactional_db so the processes stop before tables are flushed."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "uptime.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": REDIS_URL,
        "UPTIME_ALLOW_PRIVATE_TARGETS": "1",
        "UPTIME_DISPATCH_EVERY": "1",
        "UPTIME_SWEEP_EVERY": "5",
        # Shorter waits than production's, so lost work is found in seconds:
        # a queued check is presumed lost 10 s after its timeout, a pending
        # notification is swept after 5 s, and an unacknowledged message goes
        # to another worker after 30 s.
        "UPTIME_CLAIM_GRACE": "10",
        "UPTIME_SWEEP_GRACE": "5",
        "UPTIME_VISIBILITY_TIMEOUT": "30",
        "UPTIME_DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": "service-suite",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    procs = Processes(env, tmp_path)
    yield procs
    procs.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(procs.logs())  # shown by pytest under the failing test


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_sessionfinish(session, exitstatus):
    # In the service suite a skip is a failure: it means a real part was not tested.
    # (This hook sees the whole session; only this folder's skips count.)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if any(report.nodeid.startswith("tests/service/") for report in skipped):
        session.exitstatus = 1


@pytest.fixture
def private_redis(processes, tmp_path):
    """A Redis of this test's own for the processes, so it can be killed or hung."""
    from tests.service.faults import RedisServer

    server = RedisServer(tmp_path / "redis")
    server.start()
    processes.env["CELERY_BROKER_URL"] = server.url
    yield server
    processes.stop_all()  # before their broker goes away
    server.close()


@pytest.fixture
def web(processes, django_user_model):
    """The web app as a gunicorn process, with an API token."""
    from teams.tokens import token_create
    from tests.factories import alice
    from tests.service.faults import WebServer

    # alice owns the sites the tests make (tests.factories).
    _, key = token_create(user=alice(), name="service suite")
    server = WebServer(processes, key)
    return server
