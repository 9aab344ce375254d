"""Slack misbehaving, against local stand-ins: a real worker on PostgreSQL and
Redis meets rate limits, server errors, refusals, silence, a trickle, and
markup in site names.

Transitions are made directly (for disabled sites with a long interval, so no
check interferes) and queued straight on the broker the worker reads.
"""

import itertools
import json
import select
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Response

from monitor.models import Check, Transition
from monitor.probe import ErrorKind
from notifications.delivery import POST_TIMEOUT
from notifications.models import NotificationAttempt
from sites.services import site_create
from tests.factories import alice, alice_project
from tests.service.conftest import REDIS_URL, wait_for
from uptime.celery import app

Outcome = NotificationAttempt.Outcome
# The test process runs tasks eagerly (tests/settings.py); enqueue() goes
# through the broker on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
# Slots are a second apart; arrivals may jitter a little, never by this much.
SPACING = 0.9


# --- Stand-ins ------------------------------------------------------------------


class ScriptedSlack:
    """A Slack stand-in whose answers the test scripts; notes when each request came.

    `answer(text, n)` returns (status, body, headers) for the n-th request
    (0-based) carrying `text`; the default answers 200 "ok".
    """

    def __init__(self, answer=None):
        self.answer = answer or (lambda text, n: (200, "ok", {}))
        self.requests: list[tuple[float, str, int]] = []  # (arrived, text, status answered)
        self.answered: list[float] = []
        self._lock = threading.Lock()
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request("/hook", method="POST").respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/hook")

    def _handle(self, request):
        arrived = time.monotonic()
        text = request.get_json()["text"]
        with self._lock:
            status, body, headers = self.answer(text, len(self.requests))
            self.requests.append((arrived, text, status))
            self.answered.append(time.monotonic())
        return Response(body, status=status, headers=headers)

    def delivered_texts(self) -> list[str]:
        return [text for _, text, status in self.requests if status == 200]

    def gaps(self) -> list[float]:
        times = [arrived for arrived, _, _ in self.requests]
        return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


@pytest.fixture
def scripted_slack():
    stand_in = ScriptedSlack()
    stand_in.server.start()
    yield stand_in
    stand_in.server.clear()
    stand_in.server.stop()


HEALTHY_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
    b"Connection: close\r\n\r\nok"
)
# Long enough that, at a byte a second, it would take minutes to finish.
DRIPPED_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Padding: "
    + b"x" * 300
    + b"\r\nContent-Length: 2\r\n\r\nok"
)


class SocketSlack:
    """A Slack stand-in on a bare socket whose first connection misbehaves.

    `silent`: reads the request and never answers. `drip`: answers one byte
    a second. Later connections get a normal 200 "ok". It notes when each
    request arrived, its text, and when a misbehaving connection was dropped
    by the client.
    """

    def __init__(self, mode: str):
        self.mode = mode
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.requests: list[tuple[float, str]] = []
        self.healthy_texts: list[str] = []
        self.dropped_at: list[float] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"

    def start(self) -> None:
        self._spawn(self._accept)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self.listener.close()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        count = 0
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            count += 1
            self._spawn(self._serve, conn, count == 1)

    def _serve(self, conn: socket.socket, misbehave: bool) -> None:
        with conn:
            text = _read_request(conn)
            self.requests.append((time.monotonic(), text))
            if not misbehave:
                conn.sendall(HEALTHY_ANSWER)
                self.healthy_texts.append(text)
                return
            for byte in DRIPPED_ANSWER:
                if self._stop.is_set():
                    return
                if _peer_closed(conn, wait=1.0):
                    self.dropped_at.append(time.monotonic())
                    return
                if self.mode == "drip":
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        self.dropped_at.append(time.monotonic())
                        return


def _read_request(conn: socket.socket) -> str:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(4096)
    return json.loads(body)["text"]


def _peer_closed(conn: socket.socket, *, wait: float) -> bool:
    """Wait up to `wait` seconds; True if the client closed its side meanwhile."""
    readable, _, _ = select.select([conn], [], [], wait)
    if not readable:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


# --- Helpers --------------------------------------------------------------------

_site_numbers = itertools.count()


def make_transition(name: str, *, reason: str = "HTTP 503 Service Unavailable") -> Transition:
    """A down transition for a new disabled site (beat never checks it)."""
    site = site_create(
        project=alice_project(),
        url=f"http://127.0.0.1:9/{next(_site_numbers)}?a=1&b=2",
        name=name,
        interval=3600,
        enabled=False,
    )
    at = timezone.now() - timedelta(seconds=1)
    check = Check.objects.create(
        site=site,
        checked_at=at,
        up=False,
        status_code=503,
        error_kind=ErrorKind.HTTP_STATUS,
        error_message=reason,
    )
    return Transition.objects.create(
        site=site, check_result=check, from_status="up", to_status="down", created_at=at
    )


def enqueue(transition: Transition) -> None:
    """Queue send_notification on the broker the worker reads.

    The test process's settings run tasks eagerly, so .delay() would run it
    here; send_task always goes through the broker.
    """
    with app.connection_for_write(REDIS_URL) as connection:
        app.send_task(
            "notifications.tasks.send_notification", args=[transition.id], connection=connection
        )


def status_of(transition: Transition) -> str:
    transition.refresh_from_db()
    return transition.notification_status


def all_sent(transitions: list[Transition]) -> bool:
    return all(status_of(t) == "sent" for t in transitions)


def text_for(transition: Transition, texts: list[str]) -> list[str]:
    return [text for text in texts if transition.site.name in text]


# --- 14. Rate limited ------------------------------------------------------------


def test_14_a_429_holds_back_every_message_to_the_webhook_and_pacing_spaces_them(
    processes, scripted_slack
):
    """Retry-After pauses the whole webhook across worker processes; each transition
    is delivered once, at most about one message a second."""
    scripted_slack.answer = lambda text, n: (
        (429, "rate_limited", {"Retry-After": "3"}) if n == 0 else (200, "ok", {})
    )
    transitions = [make_transition(f"paced-{n}") for n in range(4)]
    for transition in transitions:
        enqueue(transition)
    processes.env["SLACK_WEBHOOK_URL"] = scripted_slack.url
    processes.worker(concurrency=4)

    wait_for(lambda: all_sent(transitions), timeout=60, what="every transition to be sent")
    time.sleep(2)  # anything doubled would arrive now
    requests = scripted_slack.requests
    assert [status for _, _, status in requests] == [429, 200, 200, 200, 200]
    delivered = scripted_slack.delivered_texts()
    for transition in transitions:
        assert len(text_for(transition, delivered)) == 1, delivered
    # Nothing reached the webhook during the 3 s pause...
    limited_at = scripted_slack.answered[0]
    assert requests[1][0] - limited_at >= 2.9, scripted_slack.gaps()
    # ...and the limited transition's own retry came after it too.
    limited_text = requests[0][1]
    retried_at = next(arrived for arrived, text, _ in requests[1:] if text == limited_text)
    assert retried_at - limited_at >= 3
    assert min(scripted_slack.gaps()) >= SPACING, scripted_slack.gaps()
    attempts = NotificationAttempt.objects.filter(status_code=429)
    assert [(a.outcome, a.transition.site.name in limited_text) for a in attempts] == [
        (Outcome.RETRYING, True)
    ]


# --- 15. Server errors -------------------------------------------------------------


def test_15_two_server_errors_then_success_deliver_once_after_three_backed_off_attempts(
    processes, scripted_slack
):
    """500, 500, 200: retried with jittered exponential backoff, delivered once, and
    every attempt recorded."""
    scripted_slack.answer = lambda text, n: (500, "server_error", {}) if n < 2 else (200, "ok", {})
    transition = make_transition("flaky")
    enqueue(transition)
    processes.env["SLACK_WEBHOOK_URL"] = scripted_slack.url
    # The second wait is up to 20 s: with the suite's 30 s visibility timeout a
    # wait over half of it is left to the sweeper (no beat runs here), as a
    # long Retry-After is in production. This case is about the backoff.
    processes.env["UPTIME_VISIBILITY_TIMEOUT"] = "120"
    processes.worker(concurrency=1)

    wait_for(lambda: status_of(transition) == "sent", timeout=60, what="delivery on the 3rd try")
    time.sleep(2)
    assert [status for _, _, status in scripted_slack.requests] == [500, 500, 200]
    first_gap, second_gap = scripted_slack.gaps()
    # delivery backs off from 10 s with equal jitter: [5, 10] s, then [10, 20] s.
    assert 5 <= first_gap <= 10 + 2, first_gap
    assert 10 <= second_gap <= 20 + 2, second_gap
    transition.refresh_from_db()
    assert transition.notify_attempts == 3
    assert transition.notified_at is not None
    attempts = list(transition.attempts.order_by("attempted_at", "id"))
    assert [(a.outcome, a.status_code) for a in attempts] == [
        (Outcome.RETRYING, 500),
        (Outcome.RETRYING, 500),
        (Outcome.DELIVERED, 200),
    ]
    assert "server_error" in attempts[0].error and "next try in" in attempts[0].error


# --- 16. Refused for good ------------------------------------------------------------

REFUSALS = {
    "refused-400": (400, "invalid_payload"),
    "refused-403": (403, "action_prohibited"),
    "refused-404": (404, "no_service"),
    "refused-410": (410, "channel_is_archived"),
}


def test_16_a_4xx_answer_is_never_retried_and_the_user_sees_why(
    processes, scripted_slack, django_user_model
):
    """400/403/404/410 are permanent: one attempt each, marked failed with Slack's
    reason, shown in the admin and on the site's page."""

    def answer(text, n):
        name = next(name for name in REFUSALS if name in text)
        status, body = REFUSALS[name]
        return status, body, {}

    scripted_slack.answer = answer
    transitions = {name: make_transition(name) for name in REFUSALS}
    for transition in transitions.values():
        enqueue(transition)
    processes.env["SLACK_WEBHOOK_URL"] = scripted_slack.url
    processes.worker(concurrency=2)

    wait_for(
        lambda: all(status_of(t) == "failed" for t in transitions.values()),
        timeout=40,
        what="every refused transition to be marked failed",
    )
    time.sleep(8)  # a retry would come after at least 5 s of backoff
    assert len(scripted_slack.requests) == len(REFUSALS)
    for name, transition in transitions.items():
        status, body = REFUSALS[name]
        transition.refresh_from_db()
        assert transition.notify_attempts == 1
        [attempt] = transition.attempts.all()
        assert (attempt.outcome, attempt.status_code) == (Outcome.FAILED, status)
        assert f"Slack answered HTTP {status}: {body}" in attempt.error

    client = Client()
    client.force_login(django_user_model.objects.create_superuser("admin", "a@b.invalid", "pw"))
    admin_page = client.get(
        reverse("admin:notifications_notificationattempt_changelist"), {"outcome__exact": "failed"}
    )
    assert admin_page.status_code == 200
    for _, body in REFUSALS.values():
        assert body.encode() in admin_page.content
    assert b"create a new one" in admin_page.content  # the hint for a deleted webhook
    member = Client()  # the site's page is its project's members' (alice's) only
    member.force_login(alice())
    site_page = member.get(reverse("site_detail", args=[transitions["refused-404"].site_id]))
    assert b"notification failed permanently" in site_page.content


# --- 17. Silence and a trickle -----------------------------------------------------


@pytest.mark.parametrize("mode", ["silent", "drip"])
def test_17_a_webhook_that_never_finishes_answering_is_abandoned_at_the_deadline(processes, mode):
    """A stand-in that never answers, or answers a byte a second, costs one attempt of
    at most the post timeout (a total deadline, not per read); the worker goes on."""
    stand_in = SocketSlack(mode)
    stand_in.start()
    try:
        stuck, healthy = make_transition(f"stuck-{mode}"), make_transition(f"healthy-{mode}")
        enqueue(stuck)
        processes.env["SLACK_WEBHOOK_URL"] = stand_in.url
        # One pool process: the healthy transition waits behind the stuck one.
        processes.worker(concurrency=1)
        wait_for(lambda: stand_in.requests, timeout=30, what="the first request")
        enqueue(healthy)

        wait_for(lambda: status_of(healthy) == "sent", timeout=POST_TIMEOUT + 20, what="healthy")
        first_attempt = stuck.attempts.order_by("attempted_at", "id").first()
        assert first_attempt.outcome == Outcome.RETRYING
        assert f"No complete answer within {POST_TIMEOUT}s" in first_attempt.error
        # Abandoned at the deadline: not before it, and not much after.
        assert POST_TIMEOUT * 1000 - 500 <= first_attempt.duration_ms <= POST_TIMEOUT * 1000 + 2500
        [dropped_at] = stand_in.dropped_at
        assert dropped_at - stand_in.requests[0][0] <= POST_TIMEOUT + 2.5

        wait_for(lambda: status_of(stuck) == "sent", timeout=40, what="the stuck one's retry")
        time.sleep(2)  # anything doubled would arrive now
        assert len(stand_in.healthy_texts) == 2
        assert len(text_for(stuck, stand_in.healthy_texts)) == 1
        assert len(text_for(healthy, stand_in.healthy_texts)) == 1
    finally:
        stand_in.stop()


# --- 18. Markup in names -------------------------------------------------------------


def test_18_slack_markup_in_a_site_name_and_reason_arrives_escaped(processes, scripted_slack):
    """A name like `<!channel>` or `<https://evil|x>` reaches Slack as text: nothing
    is injected."""
    transition = make_transition(
        "<!channel> <https://evil|x> & co", reason="<@U123> said <!here> & left"
    )
    enqueue(transition)
    processes.env["SLACK_WEBHOOK_URL"] = scripted_slack.url
    processes.worker(concurrency=1)

    wait_for(lambda: status_of(transition) == "sent", timeout=30, what="the message")
    [text] = scripted_slack.delivered_texts()
    assert "<" not in text and ">" not in text, text
    # The name in a code span, so Slack formatting in it shows as typed.
    assert "`&lt;!channel&gt; &lt;https://evil|x&gt; &amp; co`" in text
    assert "?a=1&amp;b=2" in text
    assert "Reason: &lt;@U123&gt; said &lt;!here&gt; &amp; left" in text
    assert "& " not in text.replace("&amp;", "")
