"""The sweeper: finishing what a lost message or a restart left pending."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.models import Transition
from notifications.delivery import GIVE_UP_AFTER, QUEUED_LEASE, reserve_unsent_transitions
from notifications.tasks import send_notification, sweep_pending_notifications
from tests.notifications.helpers import answer, texts

Status = Transition.NotificationStatus


@pytest.fixture
def lost(site, make_transition):
    """A transition whose Celery message never arrived: pending, unleased, minutes old."""
    return make_transition(site, at=timezone.now() - timedelta(minutes=10))


def test_it_sends_a_transition_whose_message_was_lost(slack_server, lost):
    answer(slack_server)
    assert sweep_pending_notifications.delay().get() == 1
    lost.refresh_from_db()
    assert lost.notification_status == Status.SENT
    assert len(texts(slack_server)) == 1


def test_it_takes_up_a_transition_whose_lease_expired(slack_server, lost):
    answer(slack_server)
    Transition.objects.filter(id=lost.id).update(
        notify_attempts=9, notify_lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert sweep_pending_notifications.delay().get() == 1
    lost.refresh_from_db()
    assert (lost.notification_status, lost.notify_attempts) == (Status.SENT, 10)


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


def test_only_one_of_a_duplicated_sweeper_message_sends(slack_server, lost):
    answer(slack_server)
    [(transition_id, token)] = reserve_unsent_transitions()
    outcomes = [send_notification.delay(transition_id, lease_token=token).get() for _ in "ab"]
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
