"""Connects the monitor's transitions_committed signal to routing, and new projects to
SLACK_WEBHOOK_URL's channel."""

import functools
import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from monitor.signals import transitions_committed
from notifications.legacy import env_channel_ensure
from notifications.tasks import route_transitions, send_notification
from teams.models import Project

log = logging.getLogger(__name__)
# Transitions per routing task.
ROUTE_BATCH = 100


@receiver(transitions_committed, dispatch_uid="notifications.route_transitions")
def route_committed_transitions(sender, transitions, **kwargs) -> None:
    # The signal is sent after commit already; on_commit keeps that true if a
    # caller ever sends it from inside a transaction. Ids only, in batches:
    # a thousand monitors down at once are routed by a few tasks.
    ids = [transition.id for transition in transitions]
    for start in range(0, len(ids), ROUTE_BATCH):
        transaction.on_commit(functools.partial(enqueue_routing, ids[start : start + ROUTE_BATCH]))


def enqueue_routing(transition_ids: list[int]) -> None:
    """Queue the routing task; if the broker is down, the sweeper routes them later."""
    try:
        route_transitions.delay(transition_ids)
    except Exception:  # the Transition rows are durable; never fail the caller
        log.exception(
            "Could not enqueue routing for %d transitions; the sweeper will route them",
            len(transition_ids),
        )


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
