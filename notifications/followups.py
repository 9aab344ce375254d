"""Reminders and escalation for down monitors nobody has acknowledged.

Beat runs send_followups every UPTIME_FOLLOWUP_EVERY seconds. Each message's
key names the incident and, for a reminder, which one it is (the n-th period
of `remind_every_minutes` since the monitor went down), so two ticks, or two
beats, make each message once (the outbox's unique (channel, key)), and a
long outage gets the current reminder, never a burst of the missed ones.

Only incidents whose down alert was routed (Transition.notification_status
"sent") are followed up: a muted, withheld or skipped one was never
announced, so reminding of it would be the first anyone hears.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from monitor.maintenance import in_maintenance
from monitor.models import Transition
from notifications import messages, routing
from notifications.models import Channel, Notification
from sites.models import Site


@dataclass(frozen=True)
class Owed:
    """One follow-up message an incident is due."""

    incident: Transition
    channel: Channel
    event: str
    key: str


def send_followups(*, now: datetime | None = None) -> list[int]:
    """Create the reminders and escalations now due; enqueue them after commit; return their ids.

    Queries, whatever the number of monitors: 1 when no announced incident
    is unacknowledged; 2 more to read their channels; 1 more when a message
    is due by the clock (does it exist?); and when one is new, 1 or 2 for
    maintenance, 1 insert (batches on SQLite) and 1 read of the new ids.
    tests/notifications/test_followups.py counts them for 1,000 down sites.
    """
    now = now or timezone.now()
    incidents = unacknowledged_incidents()
    if not incidents:
        return []
    owed = list(_candidates(incidents, now))
    if owed:
        owed = _not_yet_created(owed)
    if owed:
        # A monitor in maintenance is being worked on: no reminder, no escalation.
        quiet = in_maintenance({item.incident.site_id for item in owed}, now)
        owed = [item for item in owed if item.incident.site_id not in quiet]
    ids = _create(owed)
    routing.enqueue_after_commit(ids)
    return ids


def unacknowledged_incidents() -> list[Transition]:
    """Each monitored, down site's current incident, if it was announced and nobody acknowledged it.

    One query: the latest down transition per down site (a correlated
    subquery on transition_site_recent_idx), kept if routed and unacknowledged.
    """
    latest_down = (
        Transition.objects.filter(site_id=OuterRef("pk"), to_status=Site.Status.DOWN)
        .order_by("-created_at", "-id")
        .values("id")[:1]
    )
    # Only projects with a channel that follows up: with reminders off (the
    # default) a tick reads no transitions at all.
    following = Channel.objects.filter(enabled=True).filter(
        Q(remind_every_minutes__isnull=False) | Q(escalate_after_minutes__isnull=False)
    )
    # Paused monitors are left alone: someone stopped watching on purpose.
    current = Site.objects.filter(
        status=Site.Status.DOWN, enabled=True, project_id__in=following.values("project_id")
    ).annotate(incident=Subquery(latest_down))
    return list(
        Transition.objects.filter(
            id__in=current.values("incident"),
            notification_status=Transition.NotificationStatus.SENT,
            acknowledgement__isnull=True,
        ).select_related("site")
    )


def _candidates(incidents: list[Transition], now: datetime):
    channels = channels_by_site([incident.site for incident in incidents])
    for incident in incidents:
        down_for = now - incident.created_at
        for channel in channels[incident.site_id]:
            if channel.is_escalation:
                if down_for.total_seconds() >= channel.escalate_after_minutes * 60:
                    yield Owed(incident, channel, messages.ESCALATION, f"t{incident.pk}-esc")
            elif channel.remind_every_minutes and channel.wants(messages.REMINDER):
                n = int(down_for.total_seconds() // (channel.remind_every_minutes * 60))
                if n >= 1:
                    yield Owed(incident, channel, messages.REMINDER, f"t{incident.pk}-r{n}")


def channels_by_site(sites: list[Site]) -> dict[int, list[Channel]]:
    """Each site's enabled channels that remind or escalate (routing.channels_of_many's rule)."""
    return {
        site_id: [
            channel
            for channel in channels
            if channel.enabled
            and (channel.remind_every_minutes or channel.escalate_after_minutes is not None)
        ]
        for site_id, channels in routing.channels_of_many(sites).items()
    }


def _not_yet_created(owed: list[Owed]) -> list[Owed]:
    # Most ticks find the current reminder already made: one read instead of
    # one insert attempt per channel.
    made = set(
        Notification.objects.filter(key__in={item.key for item in owed}).values_list(
            "channel_id", "key"
        )
    )
    return [item for item in owed if (item.channel.pk, item.key) not in made]


def _create(owed: list[Owed]) -> list[int]:
    """routing.create() for many keys at once: one insert and one read, not two queries per site."""
    rows = [
        Notification(
            channel=item.channel,
            site=item.incident.site,
            transition=item.incident,
            event=item.event,
            key=item.key,
        )
        for item in owed
    ]
    return [notification_id for notification_id, _, _ in routing.create_many(rows)]
