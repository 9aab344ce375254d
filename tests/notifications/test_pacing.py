"""Pacing: about one message a second per destination (a Slack webhook), shared by every
worker, and Slack's Retry-After holding back every message to that destination."""

import hashlib
import threading
import time

import pytest
from django.db import connection
from werkzeug import Response

from notifications import pacing
from notifications.delivery import ROUTED, deliver_notification, deliver_transition
from notifications.models import Channel, Notification, NotificationAttempt, WebhookPacing
from sites.models import Site
from tests.factories import alice_project
from tests.notifications.helpers import deliver, notifications_of

Outcome = NotificationAttempt.Outcome
# Slots are a second apart; the stand-in sees them a little less or more
# apart depending on scheduling, never by this much less.
SPACING = 0.9


class Arrivals:
    """Scripts the Slack stand-in's answers in order and notes when each request arrived."""

    def __init__(self, server, *answers: tuple[int, dict, float]):
        self.times: list[float] = []
        self.answered: list[float] = []
        self.answers = list(answers)
        server.expect_request("/hook", method="POST").respond_with_handler(self.handle)

    def handle(self, request):
        self.times.append(time.monotonic())
        status, headers, delay = self.answers.pop(0) if self.answers else (200, {}, 0.0)
        time.sleep(delay)
        self.answered.append(time.monotonic())
        return Response("ok" if status == 200 else "rate_limited", status=status, headers=headers)

    def gaps(self) -> list[float]:
        return [later - earlier for earlier, later in zip(self.times, self.times[1:], strict=False)]


def warm_up_composing(transition) -> None:
    from notifications import compose
    from notifications.models import Channel

    compose.message_for(
        Notification(
            channel=Channel.objects.first(),
            transition=transition,
            site=transition.site,
            event="down",
            key="warm-up",
        )
    )


def deliver_in_threads(transition_ids: list[int]) -> list[str]:
    """Route each transition in its own thread; return its notification's final status.

    The test commits for real (transaction=True), so routing queues the
    delivery on commit and the eager task sends it in that worker's thread.
    """
    outcomes = []

    def worker(transition_id):
        try:
            outcomes.append(deliver_transition(transition_id).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(id_,)) for id_ in transition_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [ROUTED] * len(transition_ids)
    return [notifications_of(id_)[0].status for id_ in transition_ids]


def test_messages_to_one_webhook_arrive_at_least_a_second_apart(
    slack_server, site, make_transition
):
    """Back-to-back deliveries from one worker are spaced by the webhook's pacing."""
    arrivals = Arrivals(slack_server)
    transitions = [make_transition(site) for _ in range(3)]
    # The message is composed after the slot is taken (notifications.delivery._send);
    # a cold process spends ~0.4 s on its first one (the URLconf's import), which
    # would shorten the first gap. Composed once here so the gaps measure pacing.
    warm_up_composing(transitions[0])
    for transition in transitions:
        assert deliver(transition.id) == Outcome.DELIVERED
    assert len(arrivals.times) == 3
    assert min(arrivals.gaps()) >= SPACING, arrivals.gaps()


@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_webhook_still_send_a_second_apart(
    slack_server, site, make_transition
):
    """Concurrent workers share the pacing through the database: no two take one slot."""
    arrivals = Arrivals(slack_server)
    transitions = [make_transition(site) for _ in range(4)]
    warm_up_composing(transitions[0])
    statuses = deliver_in_threads([t.id for t in transitions])
    assert statuses == [Notification.Status.SENT] * 4
    assert len(arrivals.times) == 4
    assert min(arrivals.gaps()) >= SPACING, arrivals.gaps()


def test_a_429_holds_back_the_next_message_to_that_webhook_for_its_retry_after(
    slack_server, site, make_transition
):
    """Retry-After pauses the webhook, so a different transition waits it out too."""
    arrivals = Arrivals(slack_server, (429, {"Retry-After": "2"}, 0.0))
    limited, other = make_transition(site), make_transition(site)
    assert deliver(limited.id) == Outcome.RETRYING
    assert deliver(other.id) == Outcome.DELIVERED
    assert arrivals.times[1] - arrivals.answered[0] >= 1.9, arrivals.times


@pytest.mark.django_db(transaction=True)
def test_a_slot_taken_before_a_429_arrived_waits_for_the_pause_too(
    slack_server, site, make_transition
):
    """A worker already asleep for its slot takes a new one when a pause lands meanwhile."""
    # The first request is answered 429 after 0.3 s, while the other worker
    # sleeps for the slot one second on, which falls inside the 2 s pause.
    arrivals = Arrivals(slack_server, (429, {"Retry-After": "2"}, 0.3))
    transitions = [make_transition(site) for _ in range(2)]
    warm_up_composing(transitions[0])
    statuses = deliver_in_threads([t.id for t in transitions])
    assert sorted(statuses) == [Notification.Status.PENDING, Notification.Status.SENT]
    assert len(arrivals.times) == 2
    assert arrivals.times[1] - arrivals.answered[0] >= 1.9, (arrivals.times, arrivals.answered)


def routed(transition) -> Notification:
    assert deliver_transition(transition.id).outcome == ROUTED
    [notification] = notifications_of(transition.id)
    return notification


def test_a_slot_further_off_than_the_wait_limit_is_a_planned_retry_not_a_sleep(
    slack_server, down_transition
):
    """A long pause does not keep a worker asleep: delivery plans a retry for after it."""
    pacing.hold(slack_server.url_for("/hook"), 60)
    notification = routed(down_transition)
    started = time.monotonic()
    delivery = deliver_notification(notification.id)
    assert time.monotonic() - started < pacing.MAX_WAIT
    assert delivery.outcome == Outcome.RETRYING
    assert 59 <= delivery.retry_in <= 60 + pacing.MAX_WAIT
    assert slack_server.log == []
    notification.refresh_from_db()
    assert notification.status == Notification.Status.PENDING
    assert notification.lease_until is not None
    attempt = notification.tries.get()
    assert attempt.outcome == Outcome.RETRYING
    assert attempt.status_code is None
    assert "Held back" in attempt.error


def test_waiting_for_the_destinations_turn_spends_no_retry(slack_server, down_transition):
    """Even a task out of retries plans the paced wait: only failures count against them,
    so a burst to one Slack webhook is not left to the sweeper."""
    from celery.exceptions import Retry

    from notifications import tasks

    pacing.hold(slack_server.url_for("/hook"), 60)
    notification = routed(down_transition)
    with pytest.raises(Retry) as planned:
        tasks.deliver_notification.apply(args=(notification.id,), retries=tasks.MAX_RETRIES).get()
    assert 59 <= planned.value.when <= 60 + pacing.MAX_WAIT
    assert slack_server.log == []


def test_the_planned_retry_after_a_long_pause_is_sent_once_the_pause_is_over(
    slack_server, down_transition
):
    """The held-back notification's lease token lets its own retry deliver it."""
    Arrivals(slack_server)
    pacing.hold(slack_server.url_for("/hook"), 60)
    notification = routed(down_transition)
    delivery = deliver_notification(notification.id)
    assert deliver_notification(notification.id).outcome == "not_claimed"  # a stray duplicate
    WebhookPacing.objects.update(next_send_at=pacing.NEVER, held_until=None)  # the pause is over
    again = deliver_notification(notification.id, lease_token=delivery.lease_token)
    assert again.outcome == Outcome.DELIVERED
    assert len(slack_server.log) == 1


def test_a_pause_on_one_webhook_does_not_hold_back_another(slack_server, site, make_transition):
    """Pacing is per destination (the webhook URL)."""
    Arrivals(slack_server)
    pacing.hold(slack_server.url_for("/another-hook"), 60)
    assert deliver(make_transition(site).id) == Outcome.DELIVERED


def test_a_shorter_pause_never_shortens_a_longer_one(settings, db):
    """Of two overlapping pauses the longer one stands, whatever order they come in."""
    url = "http://127.0.0.1:9/hook"
    pacing.hold(url, 30)
    pacing.hold(url, 2)
    assert pacing.wait_for_turn(url) >= 25


def test_the_webhook_url_is_stored_only_as_a_hash(slack_server, db, make_transition):
    """The URL is a secret: its pacing row is keyed by a sha256 and holds no part of it."""
    secret_url = slack_server.url_for("/hook/T000/B000/SECRETTOKEN")
    slack_server.expect_request("/hook/T000/B000/SECRETTOKEN").respond_with_data("ok")
    site = Site.objects.create(project=alice_project(), url="https://example.com")
    Channel.objects.filter(kind="slack").update(secrets={"url": secret_url})
    assert deliver(make_transition(site).id) == Outcome.DELIVERED
    [row] = WebhookPacing.objects.values_list()
    expected = hashlib.sha256(secret_url.encode()).hexdigest()
    assert row[0] == expected
    assert "SECRETTOKEN" not in repr(row) and "127.0.0.1" not in repr(row)
