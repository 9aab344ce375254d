"""Celery tasks: thin wrappers that take ids and call notifications.delivery."""

import logging

from celery import shared_task
from django.conf import settings

from notifications import delivery as outbox
from notifications import fanout
from notifications.delivery import (
    Outcome,
    deliver_transition,
    reserve_unsent_notifications,
    reserve_unsent_transitions,
    sweep_connectivity,
)

log = logging.getLogger(__name__)

# With backoff from 10 s to 15 min this covers roughly the first 40 minutes of
# an outage at the destination; after that the sweeper re-enqueues the
# message each time its lease runs out, until delivery.GIVE_UP_AFTER.
MAX_RETRIES = 8


@shared_task(bind=True, max_retries=MAX_RETRIES)
def send_notification(self, transition_id: int, lease_token: int | None = None) -> str:
    """Route one transition to its channels (after policy); wait when policy says hold.

    acks_late is safe because a redelivered message cannot claim a row that is
    routed or leased (see notifications.delivery).
    """
    delivery = deliver_transition(transition_id, lease_token=lease_token)
    return _retry_if_planned(self, delivery, transition_id=transition_id)


@shared_task
def route_transitions(transition_ids: list[int]) -> int:
    """Route a batch of committed transitions (notifications.fanout); return how many."""
    fanout.route_many(transition_ids)
    return len(transition_ids)


@shared_task
def deliver_notifications(notification_ids: list[int]) -> int:
    """Send a batch of unpaced notifications at once; retries go one task each."""
    fanout.deliver_many(notification_ids)
    return len(notification_ids)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def deliver_notification(self, notification_id: int, lease_token: int | None = None) -> str:
    """Send one notification through its channel; retry later on a transient failure."""
    delivery = outbox.deliver_notification(notification_id, lease_token=lease_token)
    return _retry_if_planned(self, delivery, notification_id=notification_id)


def _retry_if_planned(task, delivery, **ids) -> str:
    if delivery.outcome != Outcome.RETRYING:
        return delivery.outcome
    # Waiting for a paced destination's turn is not a failure: it spends no
    # retry, or a burst to one Slack webhook would leave its last messages to
    # the sweeper (GIVE_UP_AFTER still bounds it).
    budget = task.request.retries + 1 if delivery.paced else task.max_retries
    if task.request.retries >= budget:
        log.warning("Out of retries for %s; the sweeper takes it up when its lease ends", ids)
        return delivery.outcome
    if delivery.retry_in > settings.UPTIME_VISIBILITY_TIMEOUT / 2:
        # A message held for longer than the broker's visibility timeout would
        # be handed to a second worker early. The lease covers the wait; the
        # sweeper queues it when the lease ends (a long Retry-After).
        return delivery.outcome
    raise task.retry(
        countdown=delivery.retry_in,
        kwargs={**ids, "lease_token": delivery.lease_token},
        max_retries=budget,
    )


@shared_task
def sweep_pending_notifications() -> int:
    """Beat's periodic tick: re-enqueue pending work nobody is doing; return how much."""
    reserved = reserve_unsent_transitions()
    for transition_id, lease_token in reserved:
        _enqueue(send_notification, transition_id, lease_token)
    messages = reserve_unsent_notifications()
    for notification_id, lease_token in messages:
        _enqueue(deliver_notification, notification_id, lease_token)
    # Uptime's own connectivity: end an incident, route its messages, and queue
    # the down alerts it released (pending rows: a later sweep finds them too).
    for transition_id in sweep_connectivity():
        _enqueue(send_notification, transition_id, None)
    return len(reserved) + len(messages)


def _enqueue(task, row_id: int, lease_token: int | None) -> None:
    try:
        task.delay(row_id, lease_token=lease_token)
    except Exception:  # the lease runs out and a later sweep tries again
        log.exception("Could not enqueue %s for %s", task.name, row_id)
