"""Connects the monitor's site_status_changed signal to routing, and new projects to
SLACK_WEBHOOK_URL's channel."""

import functools
import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from monitor.signals import site_status_changed
from notifications.legacy import env_channel_ensure
from notifications.tasks import send_notification
from teams.models import Project

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


@receiver(post_save, sender=Project, dispatch_uid="notifications.env_channel")
def give_first_project_the_env_channel(sender, instance, created, raw=False, **kwargs) -> None:
    # A database that had no project when channels were migrated in: the
    # first project made gets SLACK_WEBHOOK_URL's channel (notifications.legacy).
    if created and not raw:
        env_channel_ensure(project=instance)
