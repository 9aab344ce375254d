"""Slack misbehaving, against local stand-ins: a real worker on PostgreSQL and
Redis meets rate limits, server errors, refusals, silence, a trickle, and
markup in site names.

Every case alerts two channels at once: the misbehaving Slack stand-in and a
generic webhook that always answers 200. Each transition is routed once into
one Notification per channel; the webhook must receive exactly one message
per transition whatever Slack does, and Slack's trouble must stay Slack's.

Transitions are made directly (for disabled sites with a long interval, so no
check interferes) and queued straight on the broker the worker reads.
"""

import itertools
import json
import re
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
from notifications.models import Channel, Notification, NotificationAttempt
from sites.models import Site
from sites.services import site_create
from tests.factories import alice, alice_project
from tests.service.conftest import REDIS_URL, RecordingWebhook, wait_for
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
        self.bodies: list[dict] = []  # each request's JSON, in the same order
        self.answered: list[float] = []
        self._lock = threading.Lock()
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request("/hook", method="POST").respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.server.url_for("/hook")

    def _handle(self, request):
        arrived = time.monotonic()
        payload = request.get_json()
        text = payload["text"]
        with self._lock:
            status, body, headers = self.answer(text, len(self.requests))
            self.requests.append((arrived, text, status))
            self.bodies.append(payload)
            self.answered.append(time.monotonic())
        return Response(body, status=status, headers=headers)

    def delivered_texts(self) -> list[str]:
        return [text for _, text, status in self.requests if status == 200]

    def delivered_bodies(self) -> list[dict]:
        return [
            body
            for body, (_, _, status) in zip(self.bodies, self.requests, strict=True)
            if status == 200
        ]

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


def make_transition(
    name: str, *, reason: str = "HTTP 503 Service Unavailable", site: Site | None = None
) -> Transition:
    """A down transition for a new disabled site (beat never checks it)."""
    site = site or make_site(name)
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


def make_site(name: str) -> Site:
    return site_create(
        project=alice_project(),
        url=f"http://127.0.0.1:9/{next(_site_numbers)}?a=1&b=2",
        name=name,
        interval=3600,
        enabled=False,
    )


def use_channels(slack_url: str, webhook: RecordingWebhook) -> tuple[Channel, Channel]:
    """alice's project alerts the Slack stand-in under test and the webhook, nothing else."""
    hook = use_webhook(webhook)
    slack = Channel.objects.create(
        project=hook.project, kind="slack", name="Slack", secrets={"url": slack_url}
    )
    return slack, hook


def use_webhook(webhook: RecordingWebhook) -> Channel:
    """alice's project's only channel: the recording webhook.

    The `slack` fixture gave the project a channel to its own always-200
    stand-in; in these cases Slack is the scripted one, so that channel goes.
    """
    project = alice_project()
    project.channels.all().delete()
    return Channel.objects.create(
        project=project, kind="webhook", name="Webhook", secrets={"url": webhook.url}
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


def notification_of(transition: Transition, channel: Channel) -> Notification | None:
    """The transition's message to `channel`, once the transition is routed."""
    return Notification.objects.filter(transition=transition, channel=channel).first()


def status_of(transition: Transition, channel: Channel) -> str:
    """Where the transition's message to `channel` stands ("unrouted" before routing)."""
    notification = notification_of(transition, channel)
    return notification.status if notification is not None else "unrouted"


def all_sent(transitions: list[Transition], *channels: Channel) -> bool:
    return all(status_of(t, channel) == "sent" for t in transitions for channel in channels)


def text_for(transition: Transition, texts: list[str]) -> list[str]:
    return [text for text in texts if transition.site.name in text]


def assert_webhook_got_each_once(
    webhook: RecordingWebhook, channel: Channel, transitions: list[Transition]
) -> None:
    """The healthy channel: one message per transition, each on its first try."""
    assert len(webhook.bodies) == len(transitions), webhook.bodies
    for transition in transitions:
        [body] = webhook.received_for(transition.site_id)
        assert (body["event"], body["monitor"]["name"]) == ("down", transition.site.name)
        notification = notification_of(transition, channel)
        assert (notification.status, notification.attempts) == ("sent", 1)
        # Routed once: the retries, if any, were the Slack notification's own.
        transition.refresh_from_db()
        assert (transition.notification_status, transition.notify_attempts) == ("sent", 1)
    channel.refresh_from_db()
    assert channel.enabled and channel.last_error == ""


# --- 14. Rate limited ------------------------------------------------------------


def test_14_a_429_holds_back_every_message_to_the_webhook_and_pacing_spaces_them(
    processes, scripted_slack, webhook
):
    """Retry-After pauses the whole Slack webhook across worker processes; each
    transition is delivered to it once, at most about one message a second. The
    other channel is not held back."""
    scripted_slack.answer = lambda text, n: (
        (429, "rate_limited", {"Retry-After": "3"}) if n == 0 else (200, "ok", {})
    )
    slack, hook = use_channels(scripted_slack.url, webhook)
    transitions = [make_transition(f"paced-{n}") for n in range(4)]
    for transition in transitions:
        enqueue(transition)
    processes.worker(concurrency=4)

    wait_for(lambda: all_sent(transitions, slack, hook), timeout=60, what="every delivery")
    time.sleep(2)  # anything doubled would arrive now
    requests = scripted_slack.requests
    assert [status for _, _, status in requests] == [429, 200, 200, 200, 200]
    delivered = scripted_slack.delivered_texts()
    for transition in transitions:
        assert len(text_for(transition, delivered)) == 1, delivered
    # Nothing reached the webhook during the 3 s pause...
    limited_at = scripted_slack.answered[0]
    assert requests[1][0] - limited_at >= 2.9, scripted_slack.gaps()
    # ...and the limited transition's own retry came after it too. (Its text
    # is composed afresh for each try: the signed ack link carries a time.)
    [limited] = [t for t in transitions if text_for(t, [requests[0][1]])]
    retried_at = next(arrived for arrived, text, _ in requests[1:] if text_for(limited, [text]))
    assert retried_at - limited_at >= 3
    assert min(scripted_slack.gaps()) >= SPACING, scripted_slack.gaps()
    attempts = NotificationAttempt.objects.filter(status_code=429)
    assert [(a.outcome, a.transition_id) for a in attempts] == [(Outcome.RETRYING, limited.id)]
    assert [a.notification.channel_id for a in attempts] == [slack.id]
    # Slack's pause and pacing are Slack's: the webhook had every message
    # before Slack took its second one.
    assert_webhook_got_each_once(webhook, hook, transitions)
    assert max(webhook.arrivals) < requests[1][0], (webhook.arrivals, requests[1][0])


# --- 15. Server errors -------------------------------------------------------------


def test_15_two_server_errors_then_success_deliver_once_after_three_backed_off_attempts(
    processes, scripted_slack, webhook
):
    """500, 500, 200: retried with jittered exponential backoff, delivered once, and
    every attempt recorded; the webhook got its one message on its first try."""
    scripted_slack.answer = lambda text, n: (500, "server_error", {}) if n < 2 else (200, "ok", {})
    slack, hook = use_channels(scripted_slack.url, webhook)
    transition = make_transition("flaky")
    enqueue(transition)
    # The second wait is up to 20 s: with the suite's 30 s visibility timeout a
    # wait over half of it is left to the sweeper (no beat runs here), as a
    # long Retry-After is in production. This case is about the backoff.
    processes.env["UPTIME_VISIBILITY_TIMEOUT"] = "120"
    processes.worker(concurrency=1)

    wait_for(
        lambda: status_of(transition, slack) == "sent", timeout=60, what="delivery on the 3rd try"
    )
    time.sleep(2)
    assert [status for _, _, status in scripted_slack.requests] == [500, 500, 200]
    first_gap, second_gap = scripted_slack.gaps()
    # delivery backs off from 10 s with equal jitter: [5, 10] s, then [10, 20] s.
    assert 5 <= first_gap <= 10 + 2, first_gap
    assert 10 <= second_gap <= 20 + 2, second_gap
    notification = notification_of(transition, slack)
    assert notification.attempts == 3
    assert notification.sent_at is not None
    attempts = list(notification.tries.order_by("attempted_at", "id"))
    assert [(a.outcome, a.status_code) for a in attempts] == [
        (Outcome.RETRYING, 500),
        (Outcome.RETRYING, 500),
        (Outcome.DELIVERED, 200),
    ]
    assert "server_error" in attempts[0].error and "next try in" in attempts[0].error
    slack.refresh_from_db()
    assert slack.enabled and slack.last_success_at is not None
    assert_webhook_got_each_once(webhook, hook, [transition])
    # The webhook did not wait for Slack's retries.
    assert webhook.arrivals[0] < scripted_slack.requests[1][0]


# --- 16. Refused for good ------------------------------------------------------------

REFUSALS = {
    "refused-400": (400, "invalid_payload"),
    "refused-403": (403, "action_prohibited"),
    "refused-404": (404, "no_service"),
    "refused-410": (410, "channel_is_archived"),
}


def refused_for_good(processes, scripted_slack, webhook):
    """Four monitors, each with a Slack channel of its own that Slack refuses
    (400/403/404/410) and the shared webhook; their transitions, delivered.

    A refusal disables the channel, so each refusal needs a channel of its
    own to be seen at all.
    """

    def answer(text, n):
        name = next(name for name in REFUSALS if name in text)
        status, body = REFUSALS[name]
        return status, body, {}

    scripted_slack.answer = answer
    hook = use_webhook(webhook)
    transitions, channels = {}, {}
    for name in REFUSALS:
        site = make_site(name)
        channels[name] = Channel.objects.create(
            project=site.project,
            kind="slack",
            name=f"Slack {name}",
            secrets={"url": scripted_slack.url},
            is_default=False,
        )
        site.channels.set([channels[name], hook])  # the monitor's own channels
        transitions[name] = make_transition(name, site=site)
    for transition in transitions.values():
        enqueue(transition)
    processes.worker(concurrency=2)
    wait_for(
        lambda: (
            all(status_of(transitions[n], channels[n]) == "failed" for n in REFUSALS)
            and all_sent(list(transitions.values()), hook)
        ),
        timeout=40,
        what="every refused message to be marked failed and every webhook message sent",
    )
    return transitions, channels, hook


def test_16_a_4xx_answer_is_never_retried_disables_the_channel_and_the_user_sees_why(
    processes, scripted_slack, webhook, django_user_model
):
    """400/403/404/410 are permanent: one attempt each, marked failed with Slack's
    reason, the channel disabled (no later alert tries it again), shown in the
    admin; the webhook channel is unaffected."""
    transitions, channels, hook = refused_for_good(processes, scripted_slack, webhook)
    time.sleep(8)  # a retry would come after at least 5 s of backoff
    assert len(scripted_slack.requests) == len(REFUSALS)
    for name, transition in transitions.items():
        status, body = REFUSALS[name]
        notification = notification_of(transition, channels[name])
        assert notification.attempts == 1
        [attempt] = notification.tries.all()
        assert (attempt.outcome, attempt.status_code) == (Outcome.FAILED, status)
        assert f"Slack answered HTTP {status}: {body}" in attempt.error
        channel = channels[name]
        channel.refresh_from_db()
        assert not channel.enabled
        assert f"Slack answered HTTP {status}: {body}" in channel.disabled_reason
        assert scripted_slack.url not in channel.disabled_reason + attempt.error
    assert_webhook_got_each_once(webhook, hook, list(transitions.values()))

    # The next change of a monitor whose Slack channel is disabled: Slack is
    # not asked again, the webhook still hears of it.
    gone = transitions["refused-404"]
    recovery = Transition.objects.create(
        site=gone.site, from_status="down", to_status="up", created_at=timezone.now()
    )
    enqueue(recovery)
    wait_for(lambda: len(webhook.received_for(gone.site_id)) == 2, timeout=30, what="the recovery")
    time.sleep(3)
    assert [body["event"] for body in webhook.received_for(gone.site_id)] == ["down", "up"]
    assert len(scripted_slack.requests) == len(REFUSALS)
    # Not routed to it, or (main after 10353fa) recorded as skipped, saying why.
    assert status_of(recovery, channels["refused-404"]) in ("unrouted", "skipped")

    client = Client()
    client.force_login(django_user_model.objects.create_superuser("admin", "a@b.invalid", "pw"))
    admin_page = client.get(
        reverse("admin:notifications_notificationattempt_changelist"), {"outcome__exact": "failed"}
    )
    assert admin_page.status_code == 200
    for _, body in REFUSALS.values():
        assert body.encode() in admin_page.content
    assert b"create a new one" in admin_page.content  # the hint for a deleted webhook


def test_16_the_site_page_says_its_alert_to_a_channel_failed_for_good_and_why(
    processes, scripted_slack, webhook
):
    transitions, _, _ = refused_for_good(processes, scripted_slack, webhook)
    member = Client()  # the site's page is its project's members' (alice's) only
    member.force_login(alice())
    site_page = member.get(reverse("site_detail", args=[transitions["refused-404"].site_id]))
    assert site_page.status_code == 200
    assert b"failed permanently" in site_page.content
    assert b"no_service" in site_page.content


# --- 17. Silence and a trickle -----------------------------------------------------


@pytest.mark.parametrize("mode", ["silent", "drip"])
def test_17_a_webhook_that_never_finishes_answering_is_abandoned_at_the_deadline(
    processes, webhook, mode
):
    """A stand-in that never answers, or answers a byte a second, costs one attempt of
    at most the post timeout (a total deadline, not per read); the worker goes on,
    and the other channel receives each message once."""
    stand_in = SocketSlack(mode)
    stand_in.start()
    try:
        slack, hook = use_channels(stand_in.url, webhook)
        stuck, healthy = make_transition(f"stuck-{mode}"), make_transition(f"healthy-{mode}")
        enqueue(stuck)
        # One pool process: the healthy transition waits behind the stuck one.
        processes.worker(concurrency=1)
        wait_for(lambda: stand_in.requests, timeout=30, what="the first request")
        enqueue(healthy)

        wait_for(
            lambda: status_of(healthy, slack) == "sent",
            timeout=POST_TIMEOUT + 20,
            what="healthy",
        )
        first_attempt = notification_of(stuck, slack).tries.order_by("attempted_at", "id").first()
        assert first_attempt.outcome == Outcome.RETRYING
        assert f"No complete answer within {POST_TIMEOUT}s" in first_attempt.error
        # Abandoned at the deadline: not before it, and not much after.
        assert POST_TIMEOUT * 1000 - 500 <= first_attempt.duration_ms <= POST_TIMEOUT * 1000 + 2500
        [dropped_at] = stand_in.dropped_at
        assert dropped_at - stand_in.requests[0][0] <= POST_TIMEOUT + 2.5

        wait_for(
            lambda: status_of(stuck, slack) == "sent", timeout=40, what="the stuck one's retry"
        )
        wait_for(lambda: all_sent([stuck, healthy], hook), timeout=10, what="the webhook")
        time.sleep(2)  # anything doubled would arrive now
        assert len(stand_in.healthy_texts) == 2
        assert len(text_for(stuck, stand_in.healthy_texts)) == 1
        assert len(text_for(healthy, stand_in.healthy_texts)) == 1
        assert_webhook_got_each_once(webhook, hook, [stuck, healthy])
    finally:
        stand_in.stop()


# --- 18. Markup in names -------------------------------------------------------------

# The only markup Slack may receive: the message's own links.
OWN_LINKS = re.compile(r"<https?://[^\s<>|]+\|(View monitor|Acknowledge)>")
USER_MARKUP = ("<!channel>", "<https://evil|x>", "<@U123>", "<!here>")


def mrkdwn_texts(payload: dict) -> list[str]:
    """Every string Slack parses as markup: `text`, and each block's mrkdwn."""
    found = [payload["text"]]

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload["blocks"])
    return found


def plain_texts(payload: dict) -> list[str]:
    return [
        block["text"]["text"]
        for block in payload["blocks"]
        if isinstance(block.get("text"), dict) and block["text"]["type"] == "plain_text"
    ]


def test_18_slack_markup_in_a_site_name_and_reason_arrives_escaped(
    processes, scripted_slack, webhook
):
    """A name like `<!channel>` or `<https://evil|x>` reaches Slack as text: nothing
    is injected, in `text` or in any block; the only markup is Uptime's own
    two links. The webhook gets the same words as typed (JSON needs no escaping)."""
    name = "<!channel> <https://evil|x> & co"
    reason = "<@U123> said <!here> & left"
    slack, hook = use_channels(scripted_slack.url, webhook)
    transition = make_transition(name, reason=reason)
    enqueue(transition)
    processes.worker(concurrency=1)

    wait_for(lambda: all_sent([transition], slack, hook), timeout=30, what="the messages")
    [payload] = scripted_slack.delivered_bodies()
    text = payload["text"]
    parsed = mrkdwn_texts(payload)
    assert len(parsed) >= 3, payload  # text, the section, the links' context
    for markup in parsed:
        assert not any(bad in markup for bad in USER_MARKUP), markup
        links = OWN_LINKS.findall(markup)
        rest = OWN_LINKS.sub("", markup)
        assert "<" not in rest and ">" not in rest, markup
        assert "& " not in rest.replace("&amp;", ""), markup
        assert links in ([], ["View monitor", "Acknowledge"]), markup
    assert OWN_LINKS.findall(text) == ["View monitor", "Acknowledge"], text
    # The name in a code span, so Slack formatting in it shows as typed.
    assert "`&lt;!channel&gt; &lt;https://evil|x&gt; &amp; co`" in text
    assert "?a=1&amp;b=2" in text
    assert "Reason: &lt;@U123&gt; said &lt;!here&gt; &amp; left" in text
    # The header is plain_text, which Slack shows as typed and never parses
    # for mentions or links (https://api.slack.com/reference/block-kit/blocks#header).
    assert plain_texts(payload) == [f"{name} is down"], payload["blocks"]

    [body] = webhook.received_for(transition.site_id)
    assert (body["monitor"]["name"], body["reason"]) == (name, reason)
