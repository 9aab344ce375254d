"""Which channels hear of a change: one outbox entry (Notification) per channel.

A monitor that chose its own channels (Channel.sites) uses those; every other
monitor uses its project's default channels. A channel hears only the events
it asked for. Escalation channels hear nothing at first: an unacknowledged
down monitor reaches them later (notifications.followups), and so does its
recovery.
"""

import functools
import logging

from django.db import transaction

from monitor.errors import ErrorKind
from monitor.models import Transition
from notifications import messages, transports
from notifications.models import Channel, Notification
from sites.models import Site

log = logging.getLogger(__name__)
# Unpaced messages per delivery task: sent concurrently (notifications.fanout).
SEND_BATCH = 100


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
    """The channels a monitor's alerts go to (escalation and disabled ones included)."""
    chosen = list(site.channels.all())
    if not chosen:
        chosen = list(Channel.objects.filter(project_id=site.project_id, is_default=True))
    return chosen


def channels_of_many(sites: list[Site]) -> dict[int, list[Channel]]:
    """channels_of() for many monitors in two queries: {site id: its channels}.

    Disabled channels are included: their messages are recorded as skipped,
    so a monitor's page says why a channel heard nothing.
    """
    through = Channel.sites.through
    chosen: dict[int, list[Channel]] = {}
    picked = through.objects.filter(site_id__in={s.pk for s in sites}).select_related("channel")
    for row in picked:
        chosen.setdefault(row.site_id, []).append(row.channel)
    defaults: dict[int, list[Channel]] = {}
    for channel in Channel.objects.filter(
        project_id__in={s.project_id for s in sites}, is_default=True
    ):
        defaults.setdefault(channel.project_id, []).append(channel)
    return {site.pk: chosen.get(site.pk) or defaults.get(site.project_id, []) for site in sites}


def route_transition(transition: Transition, *, channels: list[Channel] | None = None) -> list[int]:
    """Create the transition's notifications (once each); return the ids to queue.

    Call inside the transaction that marks the transition routed; enqueue
    the returned ids after it commits. `channels`: the monitor's, if known.
    """
    if channels is None:
        channels = channels_of(transition.site)
    return create(
        recipients(transition, channels),
        event=event_for(transition),
        key=transition_key(transition),
        site=transition.site,
        transition=transition,
    )


def recipients(transition: Transition, channels: list[Channel]) -> list[Channel]:
    """Which of a monitor's channels hear of this transition."""
    event = event_for(transition)
    chosen = []
    for channel in channels:
        if channel.is_escalation:
            if event == messages.UP and _was_escalated(channel, transition):
                chosen.append(channel)
        elif channel.wants(event):
            chosen.append(channel)
    return chosen


def transition_key(transition: Transition) -> str:
    return f"t{transition.pk}"


def create(
    channels, *, event: str, key: str, site=None, transition=None, context=None
) -> list[int]:
    """One pending Notification per channel for `key`; return the ids to queue (create_many)."""
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
    return [notification_id for notification_id, _, _ in create_many(rows)]


def create_many(rows: list[Notification]) -> list[tuple[int, int, str]]:
    """Insert these pending Notifications (once each); return (id, channel id, key) of
    those among them not yet tried, in id order: one INSERT and one SELECT.

    The unique (channel, key) constraint makes a second router's rows no-ops,
    so a message exists once however many workers route the same change. A
    row another router made a moment ago is returned too, so it may be queued
    twice, and its claim lets only one send it.
    """
    if not rows:
        return []
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    wanted = {(row.channel_id, row.key) for row in rows}
    made = (
        Notification.objects.filter(
            key__in={row.key for row in rows},
            channel_id__in={row.channel_id for row in rows},
            attempts=0,
            lease_until=None,
        )
        .order_by("id")
        .values_list("id", "channel_id", "key")
    )
    return [row for row in made if (row[1], row[2]) in wanted]


def enqueue_after_commit(notification_ids: list[int]) -> None:
    """Queue the notifications' delivery once the rows are committed.

    Unpaced ones go together, in batches (notifications.fanout); a paced one
    gets a task of its own, since it may wait for its destination's turn.
    """
    if notification_ids:
        transaction.on_commit(functools.partial(_enqueue, list(notification_ids)))


def _enqueue(notification_ids: list[int]) -> None:
    from notifications.tasks import deliver_notification, deliver_notifications

    paced, unpaced = split_by_pace(notification_ids)
    try:
        for start in range(0, len(unpaced), SEND_BATCH):
            deliver_notifications.delay(unpaced[start : start + SEND_BATCH])
        for notification_id in paced:
            deliver_notification.delay(notification_id)
    except Exception:  # the rows are durable: the sweeper sends them
        log.exception(
            "Could not enqueue %d notifications; the sweeper will send them", len(notification_ids)
        )


def split_by_pace(notification_ids: list[int]) -> tuple[list[int], list[int]]:
    """(paced, unpaced) ids, each in the given order; ids of deleted rows are dropped."""
    kinds = dict(
        Notification.objects.filter(id__in=notification_ids).values_list("id", "channel__kind")
    )
    paced = [i for i in notification_ids if i in kinds and transports.get(kinds[i]).PACE > 0]
    unpaced = [i for i in notification_ids if i in kinds and transports.get(kinds[i]).PACE == 0]
    return paced, unpaced


def _was_escalated(channel: Channel, recovery: Transition) -> bool:
    down = previous_down(recovery)
    return (
        down is not None
        # Sent, not merely made: an escalation skipped because someone
        # acknowledged first told the channel nothing to recover from.
        and Notification.objects.filter(
            channel=channel,
            transition=down,
            event=messages.ESCALATION,
            status=Notification.Status.SENT,
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
