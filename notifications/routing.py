"""Which channels hear of a change: one outbox entry (Notification) per channel.

A monitor that chose its own channels (Channel.sites) uses those; every other
monitor uses its project's default channels. A channel hears only the events
it asked for. Escalation channels hear nothing at first: an unacknowledged
down monitor reaches them later (notifications.followups), and so does its
recovery.
"""

import functools

from django.db import transaction

from monitor.errors import ErrorKind
from monitor.models import Transition
from notifications import messages
from notifications.models import Channel, Notification
from sites.models import Site


def event_for(transition: Transition) -> str:
    """The event a transition announces."""
    if transition.to_status == Site.Status.DOWN:
        return messages.DOWN
    if transition.to_status == Site.Status.DEGRADED:
        check = transition.check_result
        if check is not None and check.error_kind == ErrorKind.CERT_EXPIRING:
            return messages.CERT_EXPIRING
        return messages.DEGRADED
    return messages.UP


def channels_of(site: Site) -> list[Channel]:
    """The enabled channels a monitor's alerts go to, escalation channels included."""
    chosen = list(site.channels.all())
    if not chosen:
        chosen = list(Channel.objects.filter(project_id=site.project_id, is_default=True))
    return [channel for channel in chosen if channel.enabled]


def route_transition(transition: Transition) -> list[int]:
    """Create the transition's notifications (once each); return the new ones' ids.

    Call inside the transaction that marks the transition routed; enqueue
    the returned ids after it commits.
    """
    event = event_for(transition)
    recipients = []
    for channel in channels_of(transition.site):
        if channel.is_escalation:
            if event == messages.UP and _was_escalated(channel, transition):
                recipients.append(channel)
        elif channel.wants(event):
            recipients.append(channel)
    return create(
        recipients,
        event=event,
        key=f"t{transition.pk}",
        site=transition.site,
        transition=transition,
    )


def create(
    channels, *, event: str, key: str, site=None, transition=None, context=None
) -> list[int]:
    """One pending Notification per channel for `key`; return the ids of those created now.

    The unique (channel, key) constraint makes a second router's rows no-ops,
    so a message exists once however many workers route the same change.
    """
    rows = [
        Notification(
            channel=channel,
            site=site,
            transition=transition,
            event=event,
            key=key,
            context=context or {},
        )
        for channel in channels
    ]
    if not rows:
        return []
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        Notification.objects.filter(
            key=key, channel__in=[c.pk for c in channels], attempts=0, lease_until=None
        ).values_list("id", flat=True)
    )


def enqueue_after_commit(notification_ids: list[int]) -> None:
    """Queue each notification's delivery once the rows are committed."""
    if notification_ids:
        transaction.on_commit(functools.partial(_enqueue, list(notification_ids)))


def _enqueue(notification_ids: list[int]) -> None:
    from notifications.tasks import deliver_notification  # tasks import this module

    for notification_id in notification_ids:
        try:
            deliver_notification.delay(notification_id)
        except Exception:  # the row is durable: the sweeper sends it
            import logging

            logging.getLogger(__name__).exception(
                "Could not enqueue notification %s; the sweeper will send it", notification_id
            )


def _was_escalated(channel: Channel, recovery: Transition) -> bool:
    down = previous_down(recovery)
    return (
        down is not None
        and Notification.objects.filter(
            channel=channel, transition=down, event=messages.ESCALATION
        ).exists()
    )


def previous_down(transition: Transition) -> Transition | None:
    """The down transition whose incident `transition` ends (or None)."""
    return (
        Transition.objects.filter(
            site_id=transition.site_id,
            to_status=Site.Status.DOWN,
            created_at__lte=transition.created_at,
        )
        .exclude(id=transition.id)
        .order_by("-created_at", "-id")
        .first()
    )
