"""Many changes at once: route a batch of transitions, send a batch of messages together.

A thousand monitors going down at once (a shared host, a data centre) must
not become a thousand routing tasks and three thousand delivery tasks of a
dozen queries each: the first alert would arrive a minute late. Here a batch
is claimed with one UPDATE (stamped with its own lease time, which then
names the rows this caller owns), read with one query, routed with a few,
and its unpaced messages are sent concurrently and recorded together.
Paced messages (Slack takes one a second per webhook) still go one task
each through notifications.delivery, which also handles every retry.

The guarantees are delivery's: a row is claimed once, written only by its
claimer, and swept if a worker dies.
"""

import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from monitor import policy
from monitor.maintenance import MaintenanceWindow
from monitor.models import Transition
from notifications import compose, delivery, messages, routing, transports
from notifications.models import Channel, Notification, NotificationAttempt
from notifications.transports.base import TransportError

log = logging.getLogger(__name__)

Status = Transition.NotificationStatus
Outcome = NotificationAttempt.Outcome
# Requests in flight at once from one worker process; they wait on the network.
SENDERS = 64
_senders = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="notify")


# --- Routing --------------------------------------------------------------------


def route_many(transition_ids: list[int]) -> None:
    """Claim, decide and route a batch of transitions; deliver what may go out now."""
    stamp = _lease_stamp()
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
        return
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
    if going_out:
        _route(going_out, stamp)


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


def _route(transitions: list[Transition], stamp) -> None:
    targets = routing.channels_of_many([t.site for t in transitions])
    rows = [
        Notification(
            channel=channel,
            site=transition.site,
            transition=transition,
            event=routing.event_for(transition),
            key=routing.transition_key(transition),
        )
        for transition in transitions
        for channel in routing.recipients(transition, targets[transition.site_id])
    ]
    with transaction.atomic():
        transition_of = {(row.channel_id, row.key): row.transition_id for row in rows}
        owed = sorted(
            (
                (notification_id, transition_of[(channel_id, key)])
                for notification_id, channel_id, key in routing.create_many(rows)
            ),
            key=lambda item: (item[1], item[0]),
        )
        routed = {transition_id for _, transition_id in owed} | {row.transition_id for row in rows}
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
        first, rest = _first_alerts_first(owed)
        routing.enqueue_after_commit(rest)
        # Each transition's first message goes out from here, without a queue's
        # round trip behind every other routing task.
        transaction.on_commit(functools.partial(_send_now, first))
    log.info("Routed %d transitions to %d messages", len(routed), len(owed))


def _first_alerts_first(owed: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """(each transition's first message, the others: each one's second, then third…).

    When a thousand monitors go down at once, everyone hears of each one as
    early as possible.
    """
    rank: dict[int, int] = {}
    ordered = []
    for notification_id, transition_id in owed:
        ordered.append((rank.get(transition_id, 0), notification_id))
        rank[transition_id] = rank.get(transition_id, 0) + 1
    ordered.sort()
    first = [notification_id for position, notification_id in ordered if position == 0]
    return first, [notification_id for position, notification_id in ordered if position > 0]


def _send_now(notification_ids: list[int]) -> None:
    paced, unpaced = routing.split_by_pace(notification_ids)
    routing.enqueue_after_commit(paced)
    try:
        deliver_many(unpaced)
    except Exception:  # the rows are durable: the sweeper sends what was not sent
        log.exception("Sending %d first messages failed; the sweeper takes them", len(unpaced))


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
    outgoing = [(n, compose.message_for(n, cache=cache)) for n in ready]
    results = list(_senders.map(_send_one, outgoing))
    _record(results, stamp)


def _needs_a_closer_look(notification: Notification) -> bool:
    return (
        not notification.channel.enabled
        or notification.created_at < timezone.now() - delivery.GIVE_UP_AFTER
        or notification.event in (messages.REMINDER, messages.ESCALATION)
        or notification.key.endswith("-ended")
        or transports.get(notification.channel.kind).PACE > 0
    )


def _send_one(item: tuple[Notification, messages.Message]):
    notification, message = item
    channel = notification.channel
    started = time.monotonic()
    try:
        sent = transports.get(channel.kind).send(
            channel.settings, message, timeout=delivery.POST_TIMEOUT
        )
    except TransportError as exc:
        return notification, exc, _elapsed_ms(started)
    except Exception as exc:
        log.exception("Transport %s failed unexpectedly", channel.kind)
        return notification, TransportError(f"Internal error: {exc}", permanent=False), 0
    return notification, sent, _elapsed_ms(started)


def _record(results: list, stamp) -> None:
    now = timezone.now()
    delivered = [(n, sent, ms) for n, sent, ms in results if not isinstance(sent, TransportError)]
    failed = [(n, exc, ms) for n, exc, ms in results if isinstance(exc, TransportError)]
    with transaction.atomic():
        Notification.objects.filter(
            id__in=[n.id for n, _, _ in delivered],
            status=Notification.Status.PENDING,
            lease_until=stamp,
        ).update(status=Notification.Status.SENT, sent_at=now, lease_until=None)
        NotificationAttempt.objects.bulk_create(
            NotificationAttempt(
                transition_id=n.transition_id,
                notification=n,
                channel=f"{n.channel.kind}: {n.channel.name}"[:120],
                attempted_at=now,
                outcome=Outcome.DELIVERED,
                status_code=sent.status_code,
                duration_ms=ms,
            )
            for n, sent, ms in delivered
        )
        # Health: one write per channel a minute, not one per message.
        Channel.objects.filter(id__in={n.channel_id for n, _, _ in delivered}).filter(
            Q(last_success_at__isnull=True) | Q(last_success_at__lt=now - timedelta(minutes=1))
        ).update(last_success_at=now)
    for notification, exc, ms in failed:
        outcome = delivery.failed_attempt(notification, notification.attempts, exc, ms)
        if outcome.outcome == Outcome.RETRYING:
            _retry_later(notification, outcome)


def _retry_later(notification: Notification, planned: delivery.Delivery) -> None:
    from notifications.tasks import deliver_notification  # tasks import this module

    try:
        deliver_notification.apply_async(
            (notification.id,), {"lease_token": planned.lease_token}, countdown=planned.retry_in
        )
    except Exception:  # the lease runs out and the sweeper queues it
        log.exception("Could not queue the retry of notification %s", notification.id)


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


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
