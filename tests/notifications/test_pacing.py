"""Pacing: about one message a second per webhook, shared by every worker, and
Slack's Retry-After holding back every message to that webhook."""

import hashlib
import threading
import time

import pytest
from django.db import connection
from werkzeug import Response

from monitor.models import Transition
from notifications import pacing
from notifications.delivery import deliver_transition
from notifications.models import NotificationAttempt, WebhookPacing
from sites.models import Site
from tests.factories import alice_project

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


def deliver_in_threads(transition_ids: list[int]) -> list[str]:
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
    return outcomes


def test_messages_to_one_webhook_arrive_at_least_a_second_apart(
    slack_server, site, make_transition
):
    """Back-to-back deliveries from one worker are spaced by the webhook's pacing."""
    arrivals = Arrivals(slack_server)
    transitions = [make_transition(site) for _ in range(3)]
    for transition in transitions:
        assert deliver_transition(transition.id).outcome == Outcome.DELIVERED
    assert len(arrivals.times) == 3
    assert min(arrivals.gaps()) >= SPACING, arrivals.gaps()


@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_one_webhook_still_send_a_second_apart(
    slack_server, site, make_transition
):
    """Concurrent workers share the pacing through the database: no two take one slot."""
    arrivals = Arrivals(slack_server)
    transitions = [make_transition(site) for _ in range(4)]
    outcomes = deliver_in_threads([t.id for t in transitions])
    assert outcomes == [Outcome.DELIVERED] * 4
    assert len(arrivals.times) == 4
    assert min(arrivals.gaps()) >= SPACING, arrivals.gaps()


def test_a_429_holds_back_the_next_message_to_that_webhook_for_its_retry_after(
    slack_server, site, make_transition
):
    """Retry-After pauses the webhook, so a different transition waits it out too."""
    arrivals = Arrivals(slack_server, (429, {"Retry-After": "2"}, 0.0))
    limited, other = make_transition(site), make_transition(site)
    assert deliver_transition(limited.id).outcome == Outcome.RETRYING
    assert deliver_transition(other.id).outcome == Outcome.DELIVERED
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
    outcomes = deliver_in_threads([t.id for t in transitions])
    assert sorted(outcomes) == [Outcome.DELIVERED, Outcome.RETRYING]
    assert len(arrivals.times) == 2
    assert arrivals.times[1] - arrivals.answered[0] >= 1.9, (arrivals.times, arrivals.answered)


def test_a_slot_further_off_than_the_wait_limit_is_a_planned_retry_not_a_sleep(
    slack_server, settings, down_transition
):
    """A long pause does not keep a worker asleep: delivery plans a retry for after it."""
    pacing.hold(settings.SLACK_WEBHOOK_URL, 60)
    started = time.monotonic()
    delivery = deliver_transition(down_transition.id)
    assert time.monotonic() - started < pacing.MAX_WAIT
    assert delivery.outcome == Outcome.RETRYING
    assert 59 <= delivery.retry_in <= 60 + pacing.MAX_WAIT
    assert slack_server.log == []
    down_transition.refresh_from_db()
    assert down_transition.notification_status == Transition.NotificationStatus.PENDING
    assert down_transition.notify_lease_until is not None
    attempt = down_transition.attempts.get()
    assert attempt.outcome == Outcome.RETRYING
    assert attempt.status_code is None
    assert "Held back" in attempt.error


def test_the_planned_retry_after_a_long_pause_is_sent_once_the_pause_is_over(
    slack_server, settings, down_transition
):
    """The held-back transition's lease token lets its own retry deliver it."""
    Arrivals(slack_server)
    pacing.hold(settings.SLACK_WEBHOOK_URL, 60)
    delivery = deliver_transition(down_transition.id)
    assert deliver_transition(down_transition.id).outcome == "not_claimed"  # a stray duplicate
    WebhookPacing.objects.update(next_send_at=pacing.NEVER, held_until=None)  # the pause is over
    again = deliver_transition(down_transition.id, lease_token=delivery.lease_token)
    assert again.outcome == Outcome.DELIVERED
    assert len(slack_server.log) == 1


def test_a_pause_on_one_webhook_does_not_hold_back_another(
    slack_server, settings, site, make_transition
):
    """Pacing is per webhook URL."""
    Arrivals(slack_server)
    pacing.hold(slack_server.url_for("/another-hook"), 60)
    assert deliver_transition(make_transition(site).id).outcome == Outcome.DELIVERED


def test_a_shorter_pause_never_shortens_a_longer_one(settings, db):
    """Of two overlapping pauses the longer one stands, whatever order they come in."""
    url = "http://127.0.0.1:9/hook"
    pacing.hold(url, 30)
    pacing.hold(url, 2)
    assert pacing.wait_for_turn(url) >= 25


def test_the_webhook_url_is_stored_only_as_a_hash(slack_server, settings, db, make_transition):
    """The URL is a secret: its pacing row is keyed by a sha256 and holds no part of it."""
    settings.SLACK_WEBHOOK_URL = slack_server.url_for("/hook/T000/B000/SECRETTOKEN")
    slack_server.expect_request("/hook/T000/B000/SECRETTOKEN").respond_with_data("ok")
    site = Site.objects.create(project=alice_project(), url="https://example.com")
    assert deliver_transition(make_transition(site).id).outcome == Outcome.DELIVERED
    [row] = WebhookPacing.objects.values_list()
    expected = hashlib.sha256(settings.SLACK_WEBHOOK_URL.encode()).hexdigest()
    assert row[0] == expected
    assert "SECRETTOKEN" not in repr(row) and "127.0.0.1" not in repr(row)
