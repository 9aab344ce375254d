"""Delivering one transition: the claim, the outcomes and the attempts recorded."""

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from werkzeug import Response

from monitor.models import Transition
from notifications.delivery import (
    BACKOFF_CAP,
    GIVE_UP_AFTER,
    NOT_CLAIMED,
    RETRY_LEASE_MARGIN,
    claim_transition,
    deliver_transition,
    retry_delay,
)
from notifications.models import NotificationAttempt
from tests.notifications.helpers import answer, texts

Status = Transition.NotificationStatus
Outcome = NotificationAttempt.Outcome


def test_a_delivered_notification_is_marked_sent_with_its_attempt(slack_server, down_transition):
    answer(slack_server)
    assert deliver_transition(down_transition.id).outcome == Outcome.DELIVERED
    down_transition.refresh_from_db()
    assert down_transition.notification_status == Status.SENT
    assert down_transition.notified_at is not None
    assert down_transition.notify_lease_until is None
    assert down_transition.notify_attempts == 1
    [attempt] = down_transition.attempts.all()
    assert (attempt.outcome, attempt.status_code, attempt.channel) == ("delivered", 200, "slack")
    assert attempt.duration_ms is not None
    assert texts(slack_server)[0].startswith("*https://example.com is down!*")


def test_it_sends_one_message_when_the_same_transition_is_delivered_twice(
    slack_server, down_transition
):
    answer(slack_server)
    deliver_transition(down_transition.id)
    assert deliver_transition(down_transition.id).outcome == NOT_CLAIMED
    assert len(slack_server.log) == 1
    assert down_transition.attempts.count() == 1


def test_it_does_not_claim_a_transition_another_worker_holds(slack_server, down_transition):
    assert claim_transition(down_transition.id)
    assert deliver_transition(down_transition.id).outcome == NOT_CLAIMED
    assert slack_server.log == []


def test_it_takes_over_a_lease_that_expired_under_a_dead_worker(slack_server, down_transition):
    answer(slack_server)
    Transition.objects.filter(id=down_transition.id).update(
        notify_lease_until=timezone.now() - timedelta(seconds=1), notify_attempts=1
    )
    assert deliver_transition(down_transition.id).outcome == Outcome.DELIVERED
    down_transition.refresh_from_db()
    assert down_transition.notify_attempts == 2


def test_a_message_with_a_spent_lease_token_cannot_claim_again(slack_server, down_transition):
    # A token is the attempt count its lease was taken under; a claim moves
    # the count on, so a duplicate of the same message finds the row taken.
    Transition.objects.filter(id=down_transition.id).update(
        notify_lease_until=timezone.now() + timedelta(minutes=5), notify_attempts=3
    )
    assert claim_transition(down_transition.id, lease_token=3)
    assert not claim_transition(down_transition.id, lease_token=3)


@pytest.mark.parametrize("status", [Status.SENT, Status.FAILED, Status.SKIPPED])
def test_a_finished_transition_is_never_sent_again(slack_server, down_transition, status):
    Transition.objects.filter(id=down_transition.id).update(notification_status=status)
    assert deliver_transition(down_transition.id, lease_token=0).outcome == NOT_CLAIMED
    assert slack_server.log == []


def test_a_permanent_failure_is_marked_failed_with_slacks_reason(slack_server, down_transition):
    answer(slack_server, status=404, body="no_service")
    assert deliver_transition(down_transition.id).outcome == Outcome.FAILED
    down_transition.refresh_from_db()
    assert down_transition.notification_status == Status.FAILED
    assert down_transition.notify_lease_until is None
    [attempt] = down_transition.attempts.all()
    assert (attempt.outcome, attempt.status_code) == ("failed", 404)
    assert "no_service" in attempt.error


def test_a_transient_failure_keeps_the_lease_until_the_planned_retry(slack_server, down_transition):
    answer(slack_server, status=429, body="rate_limited", headers={"Retry-After": "300"})
    before = timezone.now()
    delivery = deliver_transition(down_transition.id)
    assert delivery.outcome == Outcome.RETRYING
    assert delivery.retry_in >= 300
    assert delivery.lease_token == 1
    down_transition.refresh_from_db()
    assert down_transition.notification_status == Status.PENDING
    planned = before + timedelta(seconds=delivery.retry_in) + RETRY_LEASE_MARGIN
    assert down_transition.notify_lease_until >= planned - timedelta(seconds=1)
    [attempt] = down_transition.attempts.all()
    assert (attempt.outcome, attempt.status_code) == ("retrying", 429)
    assert "rate_limited" in attempt.error and "next try in" in attempt.error


def test_the_planned_retry_may_claim_the_lease_held_for_it(slack_server, down_transition):
    answer(slack_server, status=503, body="busy")
    answer(slack_server)
    delivery = deliver_transition(down_transition.id)
    assert deliver_transition(down_transition.id).outcome == NOT_CLAIMED  # a stray duplicate
    again = deliver_transition(down_transition.id, lease_token=delivery.lease_token)
    assert again.outcome == Outcome.DELIVERED
    assert len(slack_server.log) == 2


def test_no_webhook_skips_with_one_info_line_and_a_skipped_attempt(down_transition, caplog):
    caplog.set_level(logging.INFO, logger="notifications")
    assert deliver_transition(down_transition.id).outcome == Outcome.SKIPPED
    down_transition.refresh_from_db()
    assert down_transition.notification_status == Status.SKIPPED
    assert down_transition.attempts.get().outcome == Outcome.SKIPPED
    lines = [r for r in caplog.records if r.name.startswith("notifications")]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO
    assert "no SLACK_WEBHOOK_URL set, skipping notification for transition" in lines[0].message


def test_a_day_old_transition_is_given_up_instead_of_sent(slack_server, site, make_transition):
    stale = make_transition(site, at=timezone.now() - GIVE_UP_AFTER - timedelta(minutes=1))
    assert deliver_transition(stale.id).outcome == Outcome.FAILED
    stale.refresh_from_db()
    assert stale.notification_status == Status.FAILED
    assert "Gave up" in stale.attempts.get().error
    assert slack_server.log == []


def test_the_webhook_url_appears_in_no_log_line_and_no_attempt(
    slack_server, settings, down_transition, caplog
):
    settings.SLACK_WEBHOOK_URL = slack_server.url_for("/hook/T000/SECRETTOKEN")
    slack_server.expect_request("/hook/T000/SECRETTOKEN").respond_with_data(
        "server_error /hook/T000/SECRETTOKEN", status=500
    )
    caplog.set_level(logging.DEBUG, logger="notifications")
    deliver_transition(down_transition.id)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("notifications")]
    assert ours and not any("SECRETTOKEN" in line for line in ours)
    assert "SECRETTOKEN" not in down_transition.attempts.get().error


def test_backoff_grows_stays_under_its_cap_and_never_undercuts_retry_after():
    assert 5 <= retry_delay(1) <= 10
    assert 40 <= retry_delay(4) <= 80
    assert BACKOFF_CAP / 2 <= retry_delay(50) <= BACKOFF_CAP
    assert retry_delay(1, retry_after=120) >= 120


@pytest.mark.django_db(transaction=True)
def test_it_notifies_once_when_two_workers_deliver_the_same_transition_at_once(
    slack_server, site, make_transition
):
    def slow_ok(request):
        time.sleep(0.3)
        return Response("ok")

    slack_server.expect_request("/hook").respond_with_handler(slow_ok)
    transition = make_transition(site)
    outcomes = []

    def worker():
        try:
            outcomes.append(deliver_transition(transition.id).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [Outcome.DELIVERED] + [NOT_CLAIMED] * 3
    assert len(slack_server.log) == 1
