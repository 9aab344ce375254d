"""The tasks: send_notification routes a transition, deliver_notification sends each
notification with retries, their countdowns, and giving way to the sweeper.

Celery runs eagerly here (tests/settings.py), where a retry would run at once
whatever its countdown; run_with_retries runs each planned retry itself and
the tests check the countdown the task asked for, not how long anything waited.
run_delivery runs both stages, as workers would.
"""

import pytest
from django.utils import timezone

from monitor.models import Transition
from notifications.models import Channel, Notification, NotificationAttempt
from notifications.tasks import MAX_RETRIES, deliver_notification, send_notification
from tests.notifications.helpers import (
    answer,
    notifications_of,
    run_delivery,
    texts,
)

Status = Transition.NotificationStatus


def test_500_then_500_then_200_delivers_exactly_once_with_three_attempts(
    slack_server, down_transition
):
    answer(slack_server, status=500, body="oops")
    answer(slack_server, status=500, body="oops")
    answer(slack_server)
    result, countdowns = run_delivery(down_transition.id)
    assert result == "delivered"
    assert len(countdowns) == 2
    assert len(texts(slack_server)) == 3
    slack_server.check_assertions()
    down_transition.refresh_from_db()
    assert down_transition.notification_status == Status.SENT
    [notification] = notifications_of(down_transition.id)
    assert (notification.status, notification.attempts) == ("sent", 3)
    outcomes = list(down_transition.attempts.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["retrying", "retrying", "delivered"]


def test_retry_countdowns_back_off_exponentially(slack_server, down_transition):
    for _ in range(3):
        answer(slack_server, status=503, body="busy")
    answer(slack_server)
    _, (first, second, third) = run_delivery(down_transition.id)
    assert 5 <= first <= 10 and 10 <= second <= 20 and 20 <= third <= 40


def test_a_429_retry_waits_at_least_retry_after(slack_server, down_transition):
    answer(slack_server, status=429, body="rate_limited", headers={"Retry-After": "120"})
    answer(slack_server)
    result, countdowns = run_delivery(down_transition.id)
    assert result == "delivered"
    assert len(countdowns) == 1
    assert countdowns[0] >= 120


def test_a_wait_longer_than_half_the_visibility_timeout_is_left_to_the_sweeper(
    slack_server, down_transition, settings
):
    """No message is held by a worker long enough for the broker to hand it to
    another one early: the lease covers the wait and the sweeper takes it up."""
    settings.UPTIME_VISIBILITY_TIMEOUT = 3600
    answer(slack_server, status=429, body="rate_limited", headers={"Retry-After": "7200"})
    result, countdowns = run_delivery(down_transition.id)
    assert (result, countdowns) == ("retrying", [])
    [notification] = notifications_of(down_transition.id)
    assert notification.status == Notification.Status.PENDING
    assert notification.lease_until >= timezone.now() + timezone.timedelta(hours=2)


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, "invalid_payload"), (403, "action_prohibited"), (404, "no_service"), (410, "x")],
)
def test_a_permanent_error_is_not_retried(slack_server, down_transition, status, body):
    answer(slack_server, status=status, body=body)
    result, countdowns = run_delivery(down_transition.id)
    assert (result, countdowns) == ("failed", [])
    assert len(slack_server.log) == 1
    attempt = down_transition.attempts.get()
    assert attempt.outcome == NotificationAttempt.Outcome.FAILED
    assert body in attempt.error
    assert not Channel.objects.get(kind="slack").enabled  # a permanent error disables it


def test_out_of_retries_the_notification_stays_pending_for_the_sweeper(
    slack_server, down_transition
):
    slack_server.expect_request("/hook").respond_with_data("oops", status=500)
    result, countdowns = run_delivery(down_transition.id)
    assert result == "retrying"
    assert len(countdowns) == MAX_RETRIES
    assert len(slack_server.log) == MAX_RETRIES + 1
    [notification] = notifications_of(down_transition.id)
    assert notification.status == Notification.Status.PENDING
    assert notification.lease_until > timezone.now()
    assert notification.attempts == MAX_RETRIES + 1
    assert down_transition.attempts.count() == MAX_RETRIES + 1


def test_a_redelivered_routing_message_routes_nothing_more(slack_server, down_transition):
    assert send_notification.delay(down_transition.id).get() == "routed"
    assert send_notification.delay(down_transition.id).get() == "not_claimed"
    assert len(notifications_of(down_transition.id)) == 1


def test_a_redelivered_message_sends_nothing_more(slack_server, down_transition):
    answer(slack_server)
    send_notification.delay(down_transition.id)
    [notification] = notifications_of(down_transition.id)
    assert deliver_notification.delay(notification.id).get() == "delivered"
    assert deliver_notification.delay(notification.id).get() == "not_claimed"
    assert len(slack_server.log) == 1


def test_a_redelivered_retry_message_sends_nothing_more(slack_server, down_transition):
    answer(slack_server, status=503, body="busy")
    answer(slack_server)
    first, _ = run_delivery(down_transition.id)
    [notification] = notifications_of(down_transition.id)
    # The retry message carried the first claim's attempt count as its token.
    duplicate = deliver_notification.delay(notification.id, lease_token=1)
    assert (first, duplicate.get()) == ("delivered", "not_claimed")
    assert len(slack_server.log) == 2
