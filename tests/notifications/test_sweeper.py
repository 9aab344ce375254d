"""The sweeper: finishing what a lost message or a restart left pending, at both stages.

A transition whose routing message was lost is routed by the sweep; a
notification whose delivery message was lost (or whose task ran out of
retries) is sent by a later sweep. Celery runs eagerly, but routing queues the
delivery on commit, which a test's transaction never reaches: the second
sweep finds the notification, as it would after a lost message.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.models import Transition
from notifications.delivery import (
    GIVE_UP_AFTER,
    QUEUED_LEASE,
    reserve_unsent_notifications,
    reserve_unsent_transitions,
)
from notifications.models import Notification
from notifications.tasks import deliver_notification, send_notification, sweep_pending_notifications
from tests.notifications.helpers import answer, notifications_of, texts

Status = Transition.NotificationStatus


@pytest.fixture
def lost(site, make_transition):
    """A transition whose Celery message never arrived: pending, unleased, minutes old."""
    return make_transition(site, at=timezone.now() - timedelta(minutes=10))


def age(notification_ids, minutes=10) -> None:
    """Make notifications as old as a lost message's would be by the next sweep."""
    Notification.objects.filter(id__in=notification_ids).update(
        created_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_it_routes_then_sends_a_transition_whose_message_was_lost(slack_server, lost):
    answer(slack_server)
    assert sweep_pending_notifications.delay().get() == 1
    lost.refresh_from_db()
    assert lost.notification_status == Status.SENT  # routed
    [notification] = notifications_of(lost.id)
    age([notification.id])
    assert sweep_pending_notifications.delay().get() == 1
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENT
    assert len(texts(slack_server)) == 1
    assert sweep_pending_notifications.delay().get() == 0  # nothing twice
    assert len(slack_server.log) == 1


def test_it_takes_up_a_transition_whose_lease_expired(slack_server, lost):
    answer(slack_server)
    Transition.objects.filter(id=lost.id).update(
        notify_attempts=9, notify_lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert sweep_pending_notifications.delay().get() == 1
    lost.refresh_from_db()
    assert (lost.notification_status, lost.notify_attempts) == (Status.SENT, 10)


def test_it_takes_up_a_notification_out_of_retries_once_its_lease_expired(slack_server, lost):
    """A notification whose task ran out of retries keeps a lease; when it runs out,
    the sweep re-enqueues it with the lease token, and it is sent once."""
    answer(slack_server)
    sweep_pending_notifications.delay().get()
    [notification] = notifications_of(lost.id)
    age([notification.id])
    Notification.objects.filter(id=notification.id).update(
        attempts=9, lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert sweep_pending_notifications.delay().get() == 1
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (Notification.Status.SENT, 10)
    assert len(slack_server.log) == 1


def test_it_leaves_a_leased_notification_to_its_owner(slack_server, lost):
    sweep_pending_notifications.delay().get()
    [notification] = notifications_of(lost.id)
    age([notification.id])
    Notification.objects.filter(id=notification.id).update(
        lease_until=timezone.now() + timedelta(minutes=1)
    )
    assert sweep_pending_notifications.delay().get() == 0
    assert slack_server.log == []


@pytest.mark.parametrize(
    "status", [Notification.Status.SENT, Notification.Status.FAILED, Notification.Status.SKIPPED]
)
def test_it_leaves_finished_notifications_alone(slack_server, lost, status):
    sweep_pending_notifications.delay().get()
    [notification] = notifications_of(lost.id)
    age([notification.id])
    Notification.objects.filter(id=notification.id).update(status=status)
    assert sweep_pending_notifications.delay().get() == 0
    assert slack_server.log == []


def test_it_leaves_a_fresh_notification_to_the_task_queued_at_commit(slack_server, lost):
    sweep_pending_notifications.delay().get()
    assert sweep_pending_notifications.delay().get() == 0  # created just now
    assert slack_server.log == []


def test_it_leaves_a_leased_transition_to_its_owner(slack_server, lost):
    Transition.objects.filter(id=lost.id).update(
        notify_lease_until=timezone.now() + timedelta(minutes=1)
    )
    assert sweep_pending_notifications.delay().get() == 0
    assert slack_server.log == []


@pytest.mark.parametrize("status", [Status.SENT, Status.FAILED, Status.SKIPPED])
def test_it_leaves_finished_transitions_alone(slack_server, lost, status):
    Transition.objects.filter(id=lost.id).update(notification_status=status)
    assert sweep_pending_notifications.delay().get() == 0
    assert slack_server.log == []


def test_it_leaves_a_fresh_transition_to_the_task_queued_at_commit(
    slack_server, site, make_transition
):
    make_transition(site, at=timezone.now())
    assert sweep_pending_notifications.delay().get() == 0
    assert slack_server.log == []


def test_a_reserved_transition_is_not_queued_again_while_its_message_waits(lost):
    before = timezone.now()
    assert reserve_unsent_transitions() == [(lost.id, 0)]
    assert reserve_unsent_transitions() == []
    lost.refresh_from_db()
    assert lost.notify_lease_until >= before + QUEUED_LEASE


def test_a_reserved_notification_is_not_queued_again_while_its_message_waits(slack_server, lost):
    sweep_pending_notifications.delay().get()
    [notification] = notifications_of(lost.id)
    age([notification.id])
    before = timezone.now()
    assert reserve_unsent_notifications() == [(notification.id, 0)]
    assert reserve_unsent_notifications() == []
    notification.refresh_from_db()
    assert notification.lease_until >= before + QUEUED_LEASE


def test_only_one_of_a_duplicated_sweeper_message_routes(slack_server, lost):
    [(transition_id, token)] = reserve_unsent_transitions()
    outcomes = [send_notification.delay(transition_id, lease_token=token).get() for _ in "ab"]
    assert outcomes == ["routed", "not_claimed"]
    assert len(notifications_of(lost.id)) == 1


def test_only_one_of_a_duplicated_sweeper_message_sends(slack_server, lost):
    answer(slack_server)
    sweep_pending_notifications.delay().get()
    [notification] = notifications_of(lost.id)
    age([notification.id])
    [(notification_id, token)] = reserve_unsent_notifications()
    outcomes = [deliver_notification.delay(notification_id, lease_token=token).get() for _ in "ab"]
    assert outcomes == ["delivered", "not_claimed"]
    assert len(slack_server.log) == 1


def test_a_transition_pending_for_a_day_is_marked_failed_as_stale(
    slack_server, site, make_transition
):
    stale = make_transition(site, at=timezone.now() - GIVE_UP_AFTER - timedelta(seconds=5))
    assert sweep_pending_notifications.delay().get() == 1
    stale.refresh_from_db()
    assert stale.notification_status == Status.FAILED
    assert "Gave up" in stale.attempts.get().error
    assert slack_server.log == []


def test_a_notification_pending_for_a_day_is_marked_failed_as_stale(slack_server, lost):
    sweep_pending_notifications.delay().get()
    [notification] = notifications_of(lost.id)
    age([notification.id], minutes=int(GIVE_UP_AFTER.total_seconds() // 60) + 1)
    assert sweep_pending_notifications.delay().get() == 1
    notification.refresh_from_db()
    assert notification.status == Notification.Status.FAILED
    assert "Gave up" in notification.tries.get().error
    assert slack_server.log == []
