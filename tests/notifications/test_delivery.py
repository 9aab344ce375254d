"""Delivering a transition: routing it once, then each notification claimed, sent and recorded.

Stage 1 (deliver_transition) claims the transition and routes it: one
Notification per channel. Stage 2 (deliver_notification) claims one
Notification and sends it through its channel's transport to a local stand-in.
"""

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
    ROUTED,
    claim_notification,
    claim_transition,
    deliver_notification,
    deliver_transition,
    retry_delay,
)
from notifications.models import Channel, Notification, NotificationAttempt
from tests.notifications.helpers import answer, deliver, notifications_of, texts

Status = Transition.NotificationStatus
Outcome = NotificationAttempt.Outcome
Sent = Notification.Status


@pytest.fixture
def routed(slack_server, down_transition) -> Notification:
    """The down transition routed to the Slack stand-in's channel: one pending notification."""
    assert deliver_transition(down_transition.id).outcome == ROUTED
    [notification] = notifications_of(down_transition.id)
    return notification


# --- Stage 1: routing --------------------------------------------------------------


def test_routing_makes_one_pending_notification_and_marks_the_transition_routed(
    slack_server, down_transition
):
    assert deliver_transition(down_transition.id).outcome == ROUTED
    down_transition.refresh_from_db()
    assert down_transition.notification_status == Status.SENT  # "sent" = routed
    assert down_transition.notified_at is not None
    assert down_transition.notify_lease_until is None
    assert down_transition.notify_attempts == 1
    [notification] = notifications_of(down_transition.id)
    assert (notification.status, notification.event, notification.attempts) == (
        "pending",
        "down",
        0,
    )
    assert notification.channel.name == "Slack stand-in"
    assert slack_server.log == []  # routing sends nothing itself


def test_a_transition_is_routed_once_however_often_it_is_delivered(slack_server, down_transition):
    assert deliver_transition(down_transition.id).outcome == ROUTED
    assert deliver_transition(down_transition.id).outcome == NOT_CLAIMED
    assert deliver_transition(down_transition.id, lease_token=1).outcome == NOT_CLAIMED
    assert Notification.objects.count() == 1


def test_it_does_not_claim_a_transition_another_worker_holds(slack_server, down_transition):
    assert claim_transition(down_transition.id)
    assert deliver_transition(down_transition.id).outcome == NOT_CLAIMED
    assert not Notification.objects.exists()


def test_it_takes_over_a_routing_lease_that_expired_under_a_dead_worker(
    slack_server, down_transition
):
    Transition.objects.filter(id=down_transition.id).update(
        notify_lease_until=timezone.now() - timedelta(seconds=1), notify_attempts=1
    )
    assert deliver_transition(down_transition.id).outcome == ROUTED
    down_transition.refresh_from_db()
    assert down_transition.notify_attempts == 2


def test_a_message_with_a_spent_lease_token_cannot_claim_a_transition_again(
    slack_server, down_transition
):
    # A token is the attempt count its lease was taken under; a claim moves
    # the count on, so a duplicate of the same message finds the row taken.
    Transition.objects.filter(id=down_transition.id).update(
        notify_lease_until=timezone.now() + timedelta(minutes=5), notify_attempts=3
    )
    assert claim_transition(down_transition.id, lease_token=3)
    assert not claim_transition(down_transition.id, lease_token=3)


@pytest.mark.parametrize(
    "status", [Status.SENT, Status.FAILED, Status.SKIPPED, Status.MUTED, Status.WITHHELD]
)
def test_a_finished_transition_is_never_routed_again(slack_server, down_transition, status):
    Transition.objects.filter(id=down_transition.id).update(notification_status=status)
    assert deliver_transition(down_transition.id, lease_token=0).outcome == NOT_CLAIMED
    assert not Notification.objects.exists()


def test_a_second_router_that_took_over_a_lapsed_lease_makes_no_second_message(
    slack_server, down_transition
):
    """The unique (channel, key) makes routing the same transition twice make one row;
    both routers may queue it, and its claim lets one of them send."""
    from notifications import routing

    answer(slack_server)
    first = routing.route_transition(down_transition)
    again = routing.route_transition(down_transition)
    assert Notification.objects.count() == 1
    outcomes = [deliver_notification(row_id).outcome for row_id in first + again]
    assert sorted(outcomes)[0] == Outcome.DELIVERED
    assert set(outcomes[1:]) <= {NOT_CLAIMED}
    assert len(slack_server.log) == 1


def test_no_channel_skips_with_a_skipped_attempt_and_no_warning(down_transition, caplog):
    caplog.set_level(logging.INFO, logger="notifications")
    assert deliver_transition(down_transition.id).outcome == Outcome.SKIPPED
    down_transition.refresh_from_db()
    assert down_transition.notification_status == Status.SKIPPED
    assert down_transition.notify_lease_until is None
    attempt = down_transition.attempts.get()
    assert attempt.outcome == Outcome.SKIPPED
    assert "No channel" in attempt.error
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_day_old_transition_is_given_up_instead_of_routed(slack_server, site, make_transition):
    stale = make_transition(site, at=timezone.now() - GIVE_UP_AFTER - timedelta(minutes=1))
    assert deliver_transition(stale.id).outcome == Outcome.FAILED
    stale.refresh_from_db()
    assert stale.notification_status == Status.FAILED
    assert "Gave up" in stale.attempts.get().error
    assert not Notification.objects.exists()
    assert slack_server.log == []


# --- Stage 2: one notification -----------------------------------------------------------


def test_a_delivered_notification_is_marked_sent_with_its_attempt(slack_server, routed):
    answer(slack_server)
    assert deliver_notification(routed.id).outcome == Outcome.DELIVERED
    routed.refresh_from_db()
    assert (routed.status, routed.attempts, routed.lease_until) == (Sent.SENT, 1, None)
    assert routed.sent_at is not None
    [attempt] = routed.tries.all()
    assert (attempt.outcome, attempt.status_code) == ("delivered", 200)
    assert attempt.channel == "slack: Slack stand-in"
    assert attempt.transition_id == routed.transition_id
    assert attempt.duration_ms is not None
    routed.channel.refresh_from_db()
    assert routed.channel.last_success_at is not None
    # An unnamed monitor is named by its URL, in bold, with the failure's status.
    [text] = texts(slack_server)
    assert text.startswith("*https://example.com is down* (HTTP 503)")


def test_it_sends_one_message_when_the_same_notification_is_delivered_twice(slack_server, routed):
    answer(slack_server)
    deliver_notification(routed.id)
    assert deliver_notification(routed.id).outcome == NOT_CLAIMED
    assert len(slack_server.log) == 1
    assert routed.tries.count() == 1


def test_it_does_not_claim_a_notification_another_worker_holds(slack_server, routed):
    assert claim_notification(routed.id)
    assert deliver_notification(routed.id).outcome == NOT_CLAIMED
    assert slack_server.log == []


def test_it_takes_over_a_lease_that_expired_under_a_dead_worker(slack_server, routed):
    answer(slack_server)
    Notification.objects.filter(id=routed.id).update(
        lease_until=timezone.now() - timedelta(seconds=1), attempts=1
    )
    assert deliver_notification(routed.id).outcome == Outcome.DELIVERED
    routed.refresh_from_db()
    assert routed.attempts == 2


def test_a_message_with_a_spent_lease_token_cannot_claim_again(slack_server, routed):
    Notification.objects.filter(id=routed.id).update(
        lease_until=timezone.now() + timedelta(minutes=5), attempts=3
    )
    assert claim_notification(routed.id, lease_token=3)
    assert not claim_notification(routed.id, lease_token=3)


@pytest.mark.parametrize("status", [Sent.SENT, Sent.FAILED, Sent.SKIPPED])
def test_a_finished_notification_is_never_sent_again(slack_server, routed, status):
    Notification.objects.filter(id=routed.id).update(status=status)
    assert deliver_notification(routed.id, lease_token=0).outcome == NOT_CLAIMED
    assert slack_server.log == []


def test_a_permanent_failure_fails_the_notification_and_disables_the_channel(slack_server, routed):
    answer(slack_server, status=404, body="no_service")
    assert deliver_notification(routed.id).outcome == Outcome.FAILED
    routed.refresh_from_db()
    assert (routed.status, routed.lease_until) == (Sent.FAILED, None)
    [attempt] = routed.tries.all()
    assert (attempt.outcome, attempt.status_code) == ("failed", 404)
    assert "no_service" in attempt.error
    channel = Channel.objects.get(id=routed.channel_id)
    assert channel.enabled is False
    assert "404" in channel.disabled_reason and "no_service" in channel.disabled_reason
    assert channel.last_error_at is not None


def test_a_transient_failure_keeps_the_lease_until_the_planned_retry(slack_server, routed):
    answer(slack_server, status=429, body="rate_limited", headers={"Retry-After": "300"})
    before = timezone.now()
    delivery = deliver_notification(routed.id)
    assert delivery.outcome == Outcome.RETRYING
    assert delivery.retry_in >= 300
    assert delivery.lease_token == 1
    routed.refresh_from_db()
    assert routed.status == Sent.PENDING
    planned = before + timedelta(seconds=delivery.retry_in) + RETRY_LEASE_MARGIN
    assert routed.lease_until >= planned - timedelta(seconds=1)
    [attempt] = routed.tries.all()
    assert (attempt.outcome, attempt.status_code) == ("retrying", 429)
    assert "rate_limited" in attempt.error and "next try in" in attempt.error
    channel = Channel.objects.get(id=routed.channel_id)
    assert channel.enabled and "429" in channel.last_error


def test_the_planned_retry_may_claim_the_lease_held_for_it(slack_server, routed):
    answer(slack_server, status=503, body="busy")
    answer(slack_server)
    delivery = deliver_notification(routed.id)
    assert deliver_notification(routed.id).outcome == NOT_CLAIMED  # a stray duplicate
    again = deliver_notification(routed.id, lease_token=delivery.lease_token)
    assert again.outcome == Outcome.DELIVERED
    assert len(slack_server.log) == 2


def test_a_notification_owed_for_a_day_is_given_up_instead_of_sent(slack_server, routed):
    Notification.objects.filter(id=routed.id).update(
        created_at=timezone.now() - GIVE_UP_AFTER - timedelta(minutes=1)
    )
    assert deliver_notification(routed.id).outcome == Outcome.FAILED
    routed.refresh_from_db()
    assert routed.status == Sent.FAILED
    assert "Gave up" in routed.tries.get().error
    assert slack_server.log == []
    assert Channel.objects.get(id=routed.channel_id).enabled  # not the channel's fault


def test_a_notification_to_a_channel_disabled_meanwhile_is_skipped(slack_server, routed):
    Channel.objects.filter(id=routed.channel_id).update(
        enabled=False, disabled_reason="Slack answered HTTP 404: no_service"
    )
    assert deliver_notification(routed.id).outcome == Outcome.SKIPPED
    routed.refresh_from_db()
    assert routed.status == Sent.SKIPPED
    assert "disabled" in routed.tries.get().error
    assert slack_server.log == []


def test_the_webhook_url_appears_in_no_log_line_no_attempt_and_no_channel_error(
    slack_server, down_transition, caplog
):
    secret_url = slack_server.url_for("/hook/T000/SECRETTOKEN")
    Channel.objects.filter(kind="slack").update(secrets={"url": secret_url})
    slack_server.expect_request("/hook/T000/SECRETTOKEN").respond_with_data(
        "server_error /hook/T000/SECRETTOKEN", status=500
    )
    caplog.set_level(logging.DEBUG, logger="notifications")
    assert deliver(down_transition.id) == Outcome.RETRYING
    assert len(slack_server.log) == 1
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("notifications")]
    assert ours and not any("SECRETTOKEN" in line for line in ours)
    [attempt] = NotificationAttempt.objects.exclude(error="")
    assert "SECRETTOKEN" not in attempt.error and "500" in attempt.error
    assert "SECRETTOKEN" not in Channel.objects.get(kind="slack").last_error


def test_backoff_grows_stays_under_its_cap_and_never_undercuts_retry_after():
    assert 5 <= retry_delay(1) <= 10
    assert 40 <= retry_delay(4) <= 80
    assert BACKOFF_CAP / 2 <= retry_delay(50) <= BACKOFF_CAP
    assert retry_delay(1, retry_after=120) >= 120


# --- Workers racing ------------------------------------------------------------------


def race(function, row_id: int, workers: int = 4) -> list[str]:
    outcomes = []

    def worker():
        try:
            outcomes.append(function(row_id).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_workers_racing_to_route_one_transition_route_it_once_and_send_once(
    slack_server, site, make_transition
):
    # Committed for real here: routing queues the delivery on commit and the
    # eager task sends it in the winning worker's thread.
    slack_server.expect_request("/hook").respond_with_data("ok")
    transition = make_transition(site)
    outcomes = race(deliver_transition, transition.id)
    assert sorted(outcomes) == [NOT_CLAIMED] * 3 + [ROUTED]
    assert len(slack_server.log) == 1
    [notification] = notifications_of(transition.id)
    assert notification.status == Sent.SENT


@pytest.mark.django_db(transaction=True)
def test_it_sends_once_when_two_workers_deliver_the_same_notification_at_once(
    slack_server, site, make_transition
):
    def slow_ok(request):
        time.sleep(0.3)
        return Response("ok")

    slack_server.expect_request("/hook").respond_with_handler(slow_ok)
    transition = make_transition(site)
    from notifications import routing

    [notification_id] = routing.route_transition(transition)  # routed, nothing queued
    outcomes = race(deliver_notification, notification_id)
    assert sorted(outcomes) == [Outcome.DELIVERED] + [NOT_CLAIMED] * 3
    assert len(slack_server.log) == 1
