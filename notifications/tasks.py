"""Celery tasks: thin wrappers that take ids and call notifications.delivery."""

import logging

from celery import shared_task
from django.conf import settings

from notifications.delivery import (
    Outcome,
    deliver_transition,
    reserve_unsent_transitions,
    sweep_connectivity,
)

log = logging.getLogger(__name__)

# With backoff from 10 s to 15 min this covers roughly the first 40 minutes of
# a Slack outage; after that the sweeper re-enqueues the transition each time
# its lease runs out, until delivery.GIVE_UP_AFTER.
MAX_RETRIES = 8


@shared_task(bind=True, max_retries=MAX_RETRIES)
def send_notification(self, transition_id: int, lease_token: int | None = None) -> str:
    """Deliver one transition's notification; retry later on a transient failure.

    acks_late is safe because a redelivered message cannot claim a row that is
    sent or leased (see notifications.delivery).
    """
    delivery = deliver_transition(transition_id, lease_token=lease_token)
    if delivery.outcome != Outcome.RETRYING:
        return delivery.outcome
    if self.request.retries >= self.max_retries:
        log.warning(
            "Out of retries for transition %s; the sweeper takes it up when its lease ends",
            transition_id,
        )
        return delivery.outcome
    if delivery.retry_in > settings.UPTIME_VISIBILITY_TIMEOUT / 2:
        # A message held for longer than the broker's visibility timeout would
        # be handed to a second worker early. The lease covers the wait; the
        # sweeper queues the transition when it ends (a long Retry-After).
        return delivery.outcome
    raise self.retry(
        countdown=delivery.retry_in,
        kwargs={"transition_id": transition_id, "lease_token": delivery.lease_token},
    )


@shared_task
def sweep_pending_notifications() -> int:
    """Beat's periodic tick: re-enqueue pending transitions nobody is working on."""
    reserved = reserve_unsent_transitions()
    for transition_id, lease_token in reserved:
        try:
            send_notification.delay(transition_id, lease_token=lease_token)
        except Exception:  # the lease runs out and a later sweep tries again
            log.exception("Could not enqueue the notification for transition %s", transition_id)
    # Uptime's own connectivity: end an incident, send its messages, and queue
    # the down alerts it released (pending rows: a later sweep finds them too).
    for transition_id in sweep_connectivity():
        try:
            send_notification.delay(transition_id)
        except Exception:
            log.exception("Could not enqueue the notification for transition %s", transition_id)
    return len(reserved)
