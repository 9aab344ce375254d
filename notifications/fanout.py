"""Many changes at once: route a batch of transitions and send their messages together.

A thousand monitors going down at once (a shared host, a data centre) must
not become a thousand routing tasks and three thousand delivery tasks of a
dozen queries each: the first alert would arrive a minute late. Here a batch
is claimed with one UPDATE (stamped with its own lease time, which then
names the rows this caller owns), read with one query, and routed with a
few: its notifications are inserted already leased to this worker, which
sends them itself, each transition's message built once and its first
channel served before anyone's second (notifications.outgoing).
Paced messages (Slack takes one a second per webhook) and disabled
channels still go one task each through notifications.delivery, which also
handles every retry.

The guarantees are delivery's: a row is claimed once, written only by its
claimer, and swept if a worker dies.
"""

import functools
import logging

from django.db import connection, transaction
from django.utils import timezone

from monitor import policy
from monitor.maintenance import MaintenanceWindow
from monitor.models import Transition
from notifications import compose, delivery, messages, outgoing, routing, transports
from notifications.models import Channel, Notification

log = logging.getLogger(__name__)

Status = Transition.NotificationStatus


# --- Routing --------------------------------------------------------------------


def route_many(transition_ids: list[int]) -> None:
    """Claim, decide and route a batch of transitions; deliver what may go out now."""
    stamp = _lease_stamp()
    with outgoing.deciding():
        owed = _decide_and_route(transition_ids, stamp)
    # After the commit: the rows must exist before their messages do.
    transaction.on_commit(functools.partial(_send_routed, owed, stamp))


def _decide_and_route(transition_ids: list[int], stamp) -> list:
    """Policy's verdict on each claimed transition; route those that go out. Returns
    what _send_routed() sends."""
    mine = _claim(
        Transition,
        transition_ids,
        status=("notification_status", Status.PENDING),
        lease="notify_lease_until",
        attempts="notify_attempts",
        until=stamp,
    )
    claimed = list(Transition.objects.select_related("site").filter(id__in=mine))
    if not claimed:
        return []
    now = timezone.now()
    maintenance_possible = MaintenanceWindow.objects.filter(
        project_id__in={t.site.project_id for t in claimed}
    ).exists()
    going_out = []
    for transition in claimed:
        token = transition.notify_attempts
        if transition.created_at < now - delivery.GIVE_UP_AFTER:
            delivery._give_up(transition, token)
            continue
        verdict = _decide(transition, now, maintenance_possible)
        if not transition.is_down:
            delivery._queue_released(policy.release_dependents(transition.site))
        if verdict.action == policy.HOLD:
            delivery._hold(transition, token, verdict.until)
            _retry_routing_later(transition, token, verdict.until)
        elif verdict.action == policy.WITHHOLD:
            delivery._withhold(transition, token, verdict.incident)
        elif verdict.action == policy.MUTE:
            delivery._mute(transition, token, verdict.reason)
        else:
            going_out.append(transition)
    return _route(going_out, stamp) if going_out else []


def _decide(transition: Transition, now, maintenance_possible: bool) -> policy.Verdict:
    if maintenance_possible or transition.site.depends_on_id or not transition.is_down:
        return policy.decide(transition, now=now)
    # No window in these projects and no parent: only our own network can
    # hold a down alert back (no query unless the failure is a network one).
    return policy.decide_network(transition, now=now)


def _retry_routing_later(transition: Transition, token: int, until) -> None:
    from notifications.tasks import send_notification  # tasks import this module

    delay = max((until - timezone.now()).total_seconds(), 0.5)
    try:
        send_notification.apply_async((transition.id,), {"lease_token": token}, countdown=delay)
    except Exception:  # the lease runs out and the sweeper queues it
        log.exception("Could not queue the held transition %s", transition.id)


def _route(transitions: list[Transition], stamp) -> list:
    targets = routing.channels_of_many([t.site for t in transitions])
    planned = [
        (transition, channel, rank)
        for transition in transitions
        for rank, channel in enumerate(routing.recipients(transition, targets[transition.site_id]))
    ]
    with transaction.atomic():
        made = _create(planned, stamp)
        routed = {transition.id for transition, _, _ in planned}
        for transition in transitions:
            if transition.id not in routed:
                delivery._finish_transition(
                    transition,
                    transition.notify_attempts,
                    {"notification_status": Status.SKIPPED},
                    error="No channel of this monitor wants this event",
                )
        Transition.objects.filter(
            id__in=routed, notification_status=Status.PENDING, notify_lease_until=stamp
        ).update(
            notification_status=Status.SENT, notified_at=timezone.now(), notify_lease_until=None
        )
        mine, queued = [], []
        for transition, channel, rank in planned:
            notification_id = made.get((channel.id, transition.id))
            if notification_id is not None and _sent_here(channel):
                mine.append((notification_id, transition, channel, rank))
            elif notification_id is not None:
                queued.append((rank, notification_id))
        queued += _made_elsewhere(planned, made)
        # Paced and disabled channels' messages go one task each (delivery).
        routing.enqueue_after_commit([notification_id for _, notification_id in sorted(queued)])
    log.info("Routed %d transitions to %d messages", len(routed), len(made))
    return mine


def _sent_here(channel: Channel) -> bool:
    return channel.enabled and transports.get(channel.kind).PACE == 0


def _create(planned: list[tuple[Transition, Channel, int]], stamp) -> dict[tuple[int, int], int]:
    """Insert one pending Notification per (transition, channel); {(channel id, transition
    id): id} of those this call inserted, in one statement.

    Those this worker sends itself are inserted leased to it (its claim), so
    no other worker or the sweeper takes them meanwhile. The unique (channel,
    key) constraint makes a row another router made first a no-op here.
    """
    now = timezone.now()
    rows = [
        (
            channel.id,
            transition.site_id,
            transition.id,
            routing.event_for(transition),
            routing.transition_key(transition),
            {},  # context
            Notification.Status.PENDING.value,
            1 if _sent_here(channel) else 0,
            stamp if _sent_here(channel) else None,
            now,
        )
        for transition, channel, _ in planned
    ]
    columns = ("channel_id", "site_id", "transition_id", "event", "key", "context", "status")
    columns += ("attempts", "lease_until", "created_at")
    made = outgoing.insert_rows(
        Notification,
        columns,
        rows,
        suffix=' ON CONFLICT ("channel_id", "key") DO NOTHING '
        'RETURNING "id", "channel_id", "transition_id"',
    )
    return {(channel_id, transition_id): row_id for row_id, channel_id, transition_id in made}


def _made_elsewhere(planned, made: dict) -> list[tuple[int, int]]:
    """(rank, id) of the rows another router made first and nobody has tried yet.

    Queued here too: their claim lets only one worker send each.
    """
    others = {
        (channel.id, routing.transition_key(transition)): rank
        for transition, channel, rank in planned
        if (channel.id, transition.id) not in made
    }
    if not others:
        return []
    untried = Notification.objects.filter(
        key__in={key for _, key in others},
        channel_id__in={channel_id for channel_id, _ in others},
        attempts=0,
        lease_until=None,
    ).values_list("id", "channel_id", "key")
    return [
        (others[(channel_id, key)], row_id)
        for row_id, channel_id, key in untried
        if (channel_id, key) in others
    ]


def _send_routed(owed: list[tuple[int, Transition, Channel, int]], stamp) -> None:
    """Send the messages routed here: each transition's message built once for its channels."""
    if not owed:
        return
    try:
        cache = compose.Cache()
        sites = {transition.site_id: transition.site for _, transition, _, _ in owed}
        cache.prime(list(sites.values()))
        items = [
            outgoing.Outgoing(
                notification_id=notification_id,
                transition_id=transition.id,
                channel=channel,
                message=cache.message(transition, routing.event_for(transition)),
                token=1,
                rank=rank,
            )
            for notification_id, transition, channel, rank in owed
        ]
        outgoing.record(outgoing.send_all(items), stamp)
    except Exception:  # the rows are durable: the sweeper sends what was not sent
        log.exception("Sending %d routed messages failed; the sweeper takes them", len(owed))


# --- Delivering -------------------------------------------------------------------


def deliver_many(notification_ids: list[int]) -> None:
    """Claim a batch of unpaced notifications, send them at once and record the results."""
    stamp = _lease_stamp()
    mine = _claim(
        Notification,
        notification_ids,
        status=("status", Notification.Status.PENDING),
        lease="lease_until",
        attempts="attempts",
        until=stamp,
    )
    claimed = list(
        Notification.objects.select_related("channel", "transition__site").filter(id__in=mine)
    )
    ready = []
    for notification in claimed:
        if _needs_a_closer_look(notification):
            # Disabled channels, stale rows, reminders, ordered notices: the
            # one-by-one path decides them (it checks each on its own).
            delivery.deliver_notification(notification.id, lease_token=notification.attempts)
        else:
            ready.append(notification)
    if not ready:
        return
    cache = compose.Cache()
    cache.prime([n.transition.site for n in ready if n.transition_id is not None])
    items = [
        outgoing.Outgoing(
            notification_id=n.id,
            transition_id=n.transition_id,
            channel=n.channel,
            message=compose.message_for(n, cache=cache),
            token=n.attempts,
        )
        for n in ready
    ]
    outgoing.record(outgoing.send_all(items), stamp)


def _needs_a_closer_look(notification: Notification) -> bool:
    return (
        not notification.channel.enabled
        or notification.created_at < timezone.now() - delivery.GIVE_UP_AFTER
        or notification.event in (messages.REMINDER, messages.ESCALATION)
        or notification.key.endswith("-ended")
        or transports.get(notification.channel.kind).PACE > 0
    )


def _lease_stamp():
    return timezone.now() + delivery.LEASE


def _claim(model, ids, *, status: tuple[str, str], lease: str, attempts: str, until) -> list[int]:
    """Lease the pending, unleased rows among `ids`; return those this call took.

    One UPDATE … RETURNING (PostgreSQL, and SQLite since 3.35): each row is
    changed by exactly one claimer, and RETURNING names the rows it changed.
    """
    if not ids:
        return []
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    column, value = status
    adapt = connection.ops.adapt_datetimefield_value
    marks = ", ".join(["%s"] * len(ids))
    sql = (
        f"UPDATE {table} SET {q(lease)} = %s, {q(attempts)} = {q(attempts)} + 1 "  # noqa: S608
        f"WHERE {q('id')} IN ({marks}) AND {q(column)} = %s "
        f"AND ({q(lease)} IS NULL OR {q(lease)} <= %s) RETURNING {q('id')}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [adapt(until), *ids, value, adapt(timezone.now())])
        return [row[0] for row in cursor.fetchall()]
