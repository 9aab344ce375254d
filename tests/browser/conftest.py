"""The browser suite: Debian's Chromium, driven by Playwright, against the monitor
started as `make run` starts it (Procfile.run's web and worker with beat inside,
SQLite and the file-system broker) on a free port with a data dir of its own,
watching a small HTTP target on 127.0.0.1.

Run with `make test-browser`. A missing Chromium fails the suite: it never
skips. Screenshots and pages of failing tests, the 360 px screenshots and the
processes' logs go to UPTIME_ARTIFACTS_DIR (default .ci/artifacts/).
"""

import ctypes
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("UPTIME_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("UPTIME_ARTIFACTS_DIR") or REPO / ".ci" / "artifacts")
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "browser-suite-Passw0rd-7319"
TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_sessionfinish(session, exitstatus):
    # A skipped browser test is a failure: it means a page was not looked at.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if any(report.nodeid.startswith("tests/browser/") for report in skipped):
        session.exitstatus = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


# --- The target: a site that is up ---------------------------------------------


class _Healthy(BaseHTTPRequestHandler):
    """200 "ok" to every path; a path under /slow-first/ takes 3 s the first time,
    so a page rendered right after adding its monitor shows it unchecked."""

    seen: set[str] = set()
    lock = threading.Lock()

    def do_GET(self):
        if self.path.startswith("/slow-first/"):
            with self.lock:
                first = self.path not in self.seen
                self.seen.add(self.path)
            if first:
                time.sleep(3)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):  # quiet: the probes come every few seconds
        pass


@pytest.fixture(scope="session")
def target_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# --- The monitor, as `make run` runs it ------------------------------------------


def procfile_commands(port: int, filename: str = "Procfile.run") -> dict[str, list[str]]:
    """A Procfile's command lines, as honcho would run them."""
    commands = {}
    for line in (REPO / filename).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, command = line.split(":", 1)
        command = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: os.environ.get(m[1], m[2]), command)
        argv = shlex.split(command.replace("$PORT", str(port)))
        commands[name.strip()] = argv[1:] if argv[0] == "exec" else argv
    return commands


def _die_with_parent() -> None:
    """In the child: SIGTERM when pytest dies, so a killed run leaves no server behind."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class MonitorApp:
    """web and worker (beat inside) of Procfile.run, each in its own process group."""

    def __init__(self, data_dir: Path):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("UPTIME_", "CELERY_", "DJANGO_")) and k != "DATABASE_URL"
        }
        env.update(
            DJANGO_SETTINGS_MODULE="uptime.settings",
            UPTIME_DATA_DIR=str(data_dir),
            UPTIME_ENV_FILE="",
            SECRET_KEY="browser-suite-only-" + "x" * 40,
            DEBUG="0",
            PYTHONUNBUFFERED="1",
            # The target is on 127.0.0.1; acknowledged, as an operator would.
            UPTIME_ALLOW_PRIVATE_TARGETS="1",
            UPTIME_ALLOW_PRIVATE_TARGETS_ACKNOWLEDGED="1",
            UPTIME_FAILURE_THRESHOLD="1",
        )
        self.env = env
        self.logs: dict[str, Path] = {}
        self.processes: dict[str, subprocess.Popen] = {}

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [str(REPO / ".venv" / "bin" / "python"), "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            pytest.fail(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> None:
        # What `make run` does before honcho: migrate, collectstatic.
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput", "--verbosity", "0")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for name, argv in procfile_commands(self.port).items():
            self.logs[name] = ARTIFACTS / f"server-{name}.log"
            with open(self.logs[name], "wb") as log:
                self.processes[name] = subprocess.Popen(
                    argv,
                    cwd=REPO,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
        wait_for(self._listening, timeout=60, what=f"the web process on {self.base_url}")
        wait_for(lambda: " ready." in self.log("worker"), timeout=90, what="the worker to be ready")

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")

    def _listening(self) -> bool:
        for name, process in self.processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{self.log(name)[-4000:]}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="session")
def monitor_app(tmp_path_factory):
    app = MonitorApp(tmp_path_factory.mktemp("uptime-browser"))
    try:
        app.start()
        yield app
    finally:
        app.stop()


# --- The browser ----------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"the browser suite needs Playwright (requirements-dev.txt): {exc}")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"the browser suite needs Chromium at {CHROMIUM}: "
            "apt-get install chromium (or set UPTIME_CHROMIUM)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


def artifact_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:150]


def _save_page(page, stem: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=ARTIFACTS / f"{stem}.png", full_page=True)
        (ARTIFACTS / f"{stem}.html").write_text(page.content())
    except Exception as exc:  # a crashed page still lets the others be saved
        (ARTIFACTS / f"{stem}.error.txt").write_text(repr(exc))


@pytest.fixture
def new_page(request, browser, monitor_app):
    """Open a page in a context of its own: new_page(signed_in=True, **context options).

    Each page open when the test fails is kept: a full-page screenshot and its HTML.
    """
    contexts = []

    def open_page(*, signed_in: bool = False, **options):
        if signed_in:
            options["storage_state"] = request.getfixturevalue("admin").storage_state
        context = browser.new_context(base_url=monitor_app.base_url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.console_errors = []
        page.on(
            "console",
            lambda message: (
                page.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        return page

    yield open_page
    report = getattr(request.node, "rep_call", None)
    failed = report is None or report.failed
    for c, context in enumerate(contexts):
        for p, page in enumerate(context.pages):
            if failed:
                _save_page(page, f"FAILED-{artifact_name(request.node.nodeid)}-{c}-{p}")
        context.close()


@dataclass
class Admin:
    username: str
    password: str
    storage_state: dict
    setup_url: str  # where a first visit to / landed
    setup_heading: str
    setup_width: int  # the setup page's scroll width in a 360 px wide window
    welcome: str  # the message on the dashboard after creating the account


@pytest.fixture(scope="session")
def admin(browser, monitor_app) -> Admin:
    """The first admin, made as a person would on first run, on a phone: / leads to /setup."""
    context = browser.new_context(
        base_url=monitor_app.base_url, viewport={"width": 360, "height": 740}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto("/")
        setup_url, heading = page.url, page.get_by_role("heading", level=1).inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "setup-360-light.png", full_page=True)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        page.get_by_label("Username").fill(ADMIN_USERNAME)
        page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
        page.get_by_label("Password confirmation").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url(f"{monitor_app.base_url}/")
        welcome = page.locator(".messages").inner_text()
        state = context.storage_state()
    except Exception:
        _save_page(page, "FAILED-first-run-setup")
        raise
    finally:
        context.close()
    return Admin(ADMIN_USERNAME, ADMIN_PASSWORD, state, setup_url, heading, width, welcome)


def add_monitor(page, *, name: str, url: str, interval: int = 10) -> None:
    """Fill the dashboard's add-monitor form and submit it."""
    form = page.locator("form.monitor-form")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("URL", exact=True).fill(url)
    form.get_by_label("Check every (s)").fill(str(interval))
    form.get_by_role("button", name="Add monitor").click()


def site_row(page, name: str):
    return page.locator("#site-list li").filter(has=page.get_by_role("link", name=name, exact=True))


@dataclass
class UpSite:
    id: int
    name: str


@pytest.fixture(scope="session")
def up_site(browser, monitor_app, admin, target_url) -> UpSite:
    """A monitor added from the dashboard form, once it has been seen up."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=monitor_app.base_url, storage_state=admin.storage_state)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    name = "Shop front"
    try:
        page.goto("/")
        add_monitor(page, name=name, url=f"{target_url}/health")
        row = site_row(page, name)
        expect(row.locator(".badge")).to_have_text(re.compile("up", re.I), timeout=30_000)
        href = row.get_by_role("link", name=name, exact=True).get_attribute("href")
    except Exception:
        _save_page(page, "FAILED-up-site")
        raise
    finally:
        context.close()
    return UpSite(int(re.search(r"(\d+)", href)[1]), name)


# Made as the editor would: the page, a group with the monitor under a display
# name of its own, an incident with its first update; then the statuspages.cache
# contract, so nothing stale is served.
CREATE_STATUS_PAGE = """
import ctypes
import json
from sites.models import Site
from statuspages import cache
from statuspages.models import (
    StatusIncident, StatusIncidentUpdate, StatusPage, StatusPageGroup, StatusPageMonitor,
)
spec = json.loads(SPEC)
site = Site.objects.get(pk=spec["site"])
page = StatusPage.objects.create(project_id=site.project_id, slug=spec["slug"], title=spec["title"])
group = StatusPageGroup.objects.create(page=page, name="Services")
StatusPageMonitor.objects.create(group=group, page=page, site=site, display_name=spec["display"])
incident = StatusIncident.objects.create(page=page, title=spec["incident"], impact="minor")
incident.sites.add(site)
StatusIncidentUpdate.objects.create(
    incident=incident, status="investigating", message=spec["message"]
)
cache.invalidate_pages([page.pk])
"""


@pytest.fixture(scope="session")
def status_page(monitor_app, up_site) -> dict:
    """A public status page showing up_site, with an open incident."""
    spec = {
        "site": up_site.id,
        "slug": "acme",
        "title": "Acme status",
        "display": "Online shop",
        "incident": "Slow checkout for some customers",
        "message": "We are looking into slow payments.",
    }
    monitor_app.manage("shell", "-c", f"SPEC = {json.dumps(spec)!r}\n{CREATE_STATUS_PAGE}")
    return spec


@pytest.fixture(scope="session")
def page_paths(up_site, status_page) -> dict[str, tuple[str, bool]]:
    """The pages the layout and accessibility tests look at: name -> (path, signed in)."""
    return {
        "dashboard": ("/", True),
        "monitor": (f"/sites/{up_site.id}", True),
        "login": ("/login", False),
        "status": (f"/status/{status_page['slug']}", False),
    }
