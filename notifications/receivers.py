"""Connects the monitor's site_status_changed signal to notification delivery."""

import functools
import logging

from django.db import transaction
from django.dispatch import receiver

from monitor.signals import site_status_changed
from notifications.tasks import send_notification

log = logging.getLogger(__name__)


@receiver(site_status_changed, dispatch_uid="notifications.enqueue_transition")
def enqueue_transition_notification(sender, transition, **kwargs) -> None:
    # The signal is sent after commit already; on_commit keeps that true if a
    # caller ever sends it from inside a transaction. Pass the id only.
    transaction.on_commit(functools.partial(enqueue_notification, transition.id))


def enqueue_notification(transition_id: int) -> None:
    """Queue the delivery task; if the broker is down, the sweeper delivers later."""
    try:
        send_notification.delay(transition_id)
    except Exception:  # the Transition row is durable; never fail the caller
        log.exception(
            "Could not enqueue the notification for transition %s; the sweeper will send it",
            transition_id,
        )
