"""Delivering alerts: each change routed once, each message sent at most once per claim.

Two outboxes, both durable rows claimed with a conditional UPDATE
(healthchecks' pattern): the row must still be pending and its lease free,
and exactly one row must change. The claim sets a lease and bumps the
attempt count; the network call happens after that UPDATE has committed,
outside any transaction.

1. A Transition is routed once: policy (monitor.policy) decides whether it
   becomes an alert at all; if so, notifications.routing creates one
   Notification per channel, in the transaction that marks it routed.
2. Each Notification is delivered on its own (deliver_notification): paced
   per destination, retried with backoff and Retry-After, failed for good on
   a permanent error, which also disables the channel.

Lease tokens: a message planned for a leased row (a task's own retry, or the
sweeper's re-enqueue) carries the attempt count the lease was taken under.
It may claim the row despite the lease, but only while that value is
unchanged, and every claim changes it, so each token is good for one claim.

Schedule, for a destination that keeps failing: retries back off from 10 s to
at most 15 min (never sooner than Retry-After); after the task's retries the
lease runs out and the sweeper re-enqueues; a message still pending
GIVE_UP_AFTER after it was owed is marked failed as stale, because a day-old
"down" alert is noise rather than news.
"""

import dataclasses
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from monitor import policy
from monitor.connectivity import review_open_incident
from monitor.models import ConnectivityIncident, Transition
from notifications import compose, messages, pacing, routing, transports
from notifications.models import Acknowledgement, Channel, Notification, NotificationAttempt
from notifications.transports.base import TransportError

log = logging.getLogger(__name__)

POST_TIMEOUT = 10
# Longer than a post can take (POST_TIMEOUT), so a lease only expires under
# a worker that died mid-delivery.
LEASE = timedelta(minutes=2)
# A planned retry keeps the lease until its time plus this, so the sweeper
# does not queue a second message beside it.
RETRY_LEASE_MARGIN = timedelta(minutes=1)
# A message the sweeper queued gets this long to reach a worker before the
# sweeper queues another one.
QUEUED_LEASE = timedelta(minutes=5)
# The receiver enqueues right after commit; the sweeper leaves rows younger
# than settings.UPTIME_SWEEP_GRACE seconds to it.
SWEEP_LIMIT = 500
GIVE_UP_AFTER = timedelta(hours=24)
BACKOFF_BASE = 10.0
BACKOFF_CAP = 15 * 60.0

Status = Transition.NotificationStatus
Outcome = NotificationAttempt.Outcome
NOT_CLAIMED = "not_claimed"
WITHHELD = "withheld"
MUTED = "muted"
ROUTED = "routed"


@dataclass(frozen=True)
class Delivery:
    """What a delivery step did: an Outcome value, ROUTED, MUTED, WITHHELD or NOT_CLAIMED.

    For a transient failure, `retry_in` is the planned delay in seconds and
    `lease_token` lets the retry message take over the lease held for it.
    `paced`: the wait is for the destination's turn, not after a failure.
    """

    outcome: str
    retry_in: float | None = None
    lease_token: int | None = None
    paced: bool = False


# --- 1. Routing a transition ---------------------------------------------------


def deliver_transition(transition_id: int, *, lease_token: int | None = None) -> Delivery:
    """Claim a pending transition, ask policy, and route it to its channels."""
    if not claim_transition(transition_id, lease_token=lease_token):
        # Someone else holds the lease, or it is routed, muted or failed already.
        return Delivery(NOT_CLAIMED)
    transition = Transition.objects.select_related("site").filter(id=transition_id).first()
    if transition is None:  # its site was deleted just now
        return Delivery(NOT_CLAIMED)
    token = transition.notify_attempts
    if transition.created_at < timezone.now() - GIVE_UP_AFTER:
        return _give_up(transition, token)
    # Maintenance, dependencies, Uptime's own network (monitor.policy).
    verdict = policy.decide(transition, now=timezone.now())
    if not transition.is_down:
        _queue_released(policy.release_dependents(transition.site))
    if verdict.action == policy.HOLD:
        return _hold(transition, token, verdict.until)
    if verdict.action == policy.WITHHOLD:
        return _withhold(transition, token, verdict.incident)
    if verdict.action == policy.MUTE:
        return _mute(transition, token, verdict.reason)
    return _route(transition, token)


def claim_transition(transition_id: int, *, lease_token: int | None = None) -> bool:
    """Take the routing lease on a pending transition; True if this caller owns it."""
    now = timezone.now()
    free = Q(notify_lease_until__isnull=True) | Q(notify_lease_until__lte=now)
    if lease_token is not None:
        free |= Q(notify_attempts=lease_token)
    # One conditional UPDATE: of two workers racing for the row, exactly one
    # sees a changed row count of 1.
    claimed = (
        Transition.objects.filter(id=transition_id, notification_status=Status.PENDING)
        .filter(free)
        .update(notify_lease_until=now + LEASE, notify_attempts=F("notify_attempts") + 1)
    )
    return claimed == 1


def _route(transition: Transition, token: int) -> Delivery:
    with transaction.atomic():
        created = routing.route_transition(transition)
        owed = Notification.objects.filter(transition=transition, key=f"t{transition.pk}")
        if not owed.exists():
            _finish_transition(
                transition,
                token,
                {"notification_status": Status.SKIPPED},
                error="No channel of this monitor wants this event",
            )
            return Delivery(Outcome.SKIPPED)
        # Conditional on our claim's count: a worker that took over a lapsed
        # lease routes the same rows (the unique key makes them no-ops).
        Transition.objects.filter(
            id=transition.id, notification_status=Status.PENDING, notify_attempts=token
        ).update(
            notification_status=Status.SENT, notified_at=timezone.now(), notify_lease_until=None
        )
        routing.enqueue_after_commit(created)
    log.info("Routed transition %s to %d channel(s)", transition.id, len(created))
    return Delivery(ROUTED)


def _finish_transition(transition: Transition, token: int, changes: dict, *, error: str) -> None:
    """Store a transition's final state (if this caller still owns it) and why."""
    with transaction.atomic():
        Transition.objects.filter(
            id=transition.id, notification_status=Status.PENDING, notify_attempts=token
        ).update(**changes, notify_lease_until=None)
        NotificationAttempt.objects.create(
            transition=transition, channel="", outcome=Outcome.SKIPPED, error=error[:500]
        )


def _queue_released(transition_ids: list[int]) -> None:
    """Queue the alerts a recovered parent released; the sweeper finds them if this fails."""
    if not transition_ids:
        return
    from notifications.receivers import enqueue_notification  # it imports this module

    for transition_id in transition_ids:
        enqueue_notification(transition_id)


def _mute(transition: Transition, token: int, reason: str) -> Delivery:
    _finish_transition(transition, token, {"notification_status": Status.MUTED}, error=reason)
    log.info("Notification for transition %s muted (%s)", transition.id, reason)
    return Delivery(MUTED)


def _give_up(transition: Transition, token: int) -> Delivery:
    age = GIVE_UP_AFTER.total_seconds() / 3600
    _finish_transition(
        transition,
        token,
        {"notification_status": Status.FAILED},
        error=f"Gave up: still not routed {age:g} h after the change",
    )
    log.error("Gave up on the stale transition %s", transition.id)
    return Delivery(Outcome.FAILED)


def _hold(transition: Transition, token: int, until) -> Delivery:
    """Wait before deciding: the planned retry carries the transition, as for a failure."""
    delay = max((until - timezone.now()).total_seconds(), 0.5)
    Transition.objects.filter(
        id=transition.id, notification_status=Status.PENDING, notify_attempts=token
    ).update(notify_lease_until=until + RETRY_LEASE_MARGIN)
    log.info("Holding the notification for transition %s %.0f s", transition.id, delay)
    return Delivery(Outcome.RETRYING, retry_in=delay, lease_token=token)


def _withhold(
    transition: Transition, token: int, incident: ConnectivityIncident | None
) -> Delivery:
    reason = (
        f"Withheld: Uptime could not reach most sites at once (connectivity incident {incident.id})"
        if incident is not None
        else "Withheld: its down alert was withheld during Uptime's connectivity incident"
    )
    _finish_transition(transition, token, {"notification_status": Status.WITHHELD}, error=reason)
    log.info("Notification for transition %s withheld (%s)", transition.id, reason)
    if incident is not None and incident.opened_notice == Status.PENDING:
        route_incident_notices(incident.id)
    return Delivery(WITHHELD)


# --- 2. Delivering one notification ---------------------------------------------


def deliver_notification(notification_id: int, *, lease_token: int | None = None) -> Delivery:
    """Claim a pending notification and send it through its channel; record the attempt."""
    if not claim_notification(notification_id, lease_token=lease_token):
        return Delivery(NOT_CLAIMED)
    notification = (
        Notification.objects.select_related("channel", "transition__site")
        .filter(id=notification_id)
        .first()
    )
    if notification is None:  # its channel or site was deleted just now
        return Delivery(NOT_CLAIMED)
    token = notification.attempts
    channel = notification.channel
    if notification.created_at < timezone.now() - GIVE_UP_AFTER:
        age = GIVE_UP_AFTER.total_seconds() / 3600
        return _fail(notification, token, f"Gave up: still not delivered {age:g} h after")
    if not channel.enabled:
        return _skip(notification, token, f"The channel is disabled: {channel.disabled_reason}")
    if reason := _no_longer_due(notification):
        return _skip(notification, token, reason)
    if _waits_for_earlier(notification):
        return _retry_later(notification, token, 5.0, "Waits for the incident's first message")
    return _send(notification, token)


def claim_notification(notification_id: int, *, lease_token: int | None = None) -> bool:
    """Take the delivery lease on a pending notification; True if this caller owns it."""
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    if lease_token is not None:
        free |= Q(attempts=lease_token)
    claimed = (
        Notification.objects.filter(id=notification_id, status=Notification.Status.PENDING)
        .filter(free)
        .update(lease_until=now + LEASE, attempts=F("attempts") + 1)
    )
    return claimed == 1


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter for the given attempt (1-based), ≥ Retry-After."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(max(attempt - 1, 0), 20))
    # "Equal jitter": half fixed, half random, so retries of many messages
    # spread out but none comes back almost at once.
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    return max(delay, retry_after or 0.0)


def _send(notification: Notification, token: int) -> Delivery:
    channel = notification.channel
    transport = transports.get(channel.kind)
    destination = transport.destination(channel.settings)
    # A destination takes a message every PACE seconds whichever worker sends
    # it; a free slot too far off is a planned retry, not a sleeping worker.
    message = compose.message_for(notification)  # before the slot: it may take a moment
    if transport.PACE:
        held_for = pacing.wait_for_turn(destination, interval=transport.PACE)
        if held_for is not None:
            return _plan_paced_retry(notification, token, held_for)
    started = time.monotonic()
    try:
        sent = transport.send(channel.settings, message, timeout=POST_TIMEOUT)
    except TransportError as exc:
        return failed_attempt(notification, token, exc, _elapsed_ms(started))
    now = timezone.now()
    _finish(
        notification,
        token,
        {"status": Notification.Status.SENT, "sent_at": now},
        outcome=Outcome.DELIVERED,
        status_code=sent.status_code,
        duration_ms=_elapsed_ms(started),
    )
    Channel.objects.filter(id=channel.id).update(last_success_at=now)
    log.info(
        "Sent notification %s (%s) to channel %s", notification.id, notification.event, channel.id
    )
    return Delivery(Outcome.DELIVERED)


def failed_attempt(
    notification: Notification, token: int, exc: TransportError, duration_ms: int
) -> Delivery:
    """Record a failed send: a permanent error fails it and disables the channel,
    a transient one plans a retry (the caller queues it)."""
    channel = notification.channel
    _pause_destination_if_asked(transports.get(channel.kind).destination(channel.settings), exc)
    if exc.permanent:
        _disable(channel, exc.message)
        return _fail(notification, token, exc.message, exc.status_code, duration_ms)
    return _plan_retry(notification, token, exc, duration_ms)


def _no_longer_due(notification: Notification) -> str:
    """Why a reminder or an escalation need not go out any more ("" if it must)."""
    if notification.event not in (messages.REMINDER, messages.ESCALATION):
        return ""
    transition = notification.transition
    if Acknowledgement.objects.filter(transition=transition).exists():
        return "Acknowledged before it was sent"
    latest = (
        Transition.objects.filter(site_id=transition.site_id)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
        .first()
    )
    return "" if latest == transition.id else "The monitor recovered before it was sent"


def _waits_for_earlier(notification: Notification) -> bool:
    """An incident's "back" message never overtakes its "cannot reach" on a channel."""
    if not notification.key.endswith("-ended"):
        return False
    opened = notification.key.removesuffix("-ended") + "-opened"
    return Notification.objects.filter(
        channel_id=notification.channel_id, key=opened, status=Notification.Status.PENDING
    ).exists()


def _disable(channel: Channel, reason: str) -> None:
    """A permanent error: stop sending to this channel until someone fixes it."""
    now = timezone.now()
    Channel.objects.filter(id=channel.id).update(
        enabled=False,
        disabled_reason=reason[:300],
        last_error=reason[:500],
        last_error_at=now,
    )
    log.error("Disabled channel %s (%s): %s", channel.id, channel.kind, reason)


def _fail(
    notification: Notification,
    token: int,
    error: str,
    status_code: int | None = None,
    duration_ms: int | None = None,
) -> Delivery:
    _finish(
        notification,
        token,
        {"status": Notification.Status.FAILED},
        outcome=Outcome.FAILED,
        status_code=status_code,
        error=error,
        duration_ms=duration_ms,
    )
    log.error("Notification %s failed for good: %s", notification.id, error)
    return Delivery(Outcome.FAILED)


def _skip(notification: Notification, token: int, reason: str) -> Delivery:
    _finish(
        notification,
        token,
        {"status": Notification.Status.SKIPPED},
        outcome=Outcome.SKIPPED,
        error=reason,
    )
    log.info("Notification %s skipped: %s", notification.id, reason)
    return Delivery(Outcome.SKIPPED)


def _plan_retry(
    notification: Notification, token: int, exc: TransportError, duration_ms: int
) -> Delivery:
    delay = retry_delay(token, exc.retry_after)
    Channel.objects.filter(id=notification.channel_id).update(
        last_error=exc.message[:500], last_error_at=timezone.now()
    )
    log.warning("Notification %s failed (%s); next try in %.0f s", notification.id, exc, delay)
    return _retry_later(
        notification,
        token,
        delay,
        f"{exc.message}; next try in {delay:.0f} s",
        status_code=exc.status_code,
        duration_ms=duration_ms,
    )


def _retry_later(
    notification: Notification, token: int, delay: float, error: str, **attempt
) -> Delivery:
    """Record a RETRYING attempt and keep the lease until the retry is due.

    The retry message takes the lease over with `token`; if it is lost, the
    sweeper queues the notification once the lease has run out.
    """
    lease_until = timezone.now() + timedelta(seconds=delay) + RETRY_LEASE_MARGIN
    _finish(
        notification,
        token,
        {"lease_until": lease_until},
        outcome=Outcome.RETRYING,
        error=error,
        **attempt,
    )
    return Delivery(Outcome.RETRYING, retry_in=delay, lease_token=token)


def _finish(
    notification: Notification,
    token: int,
    changes: dict,
    *,
    outcome: str,
    status_code: int | None = None,
    error: str = "",
    duration_ms: int | None = None,
) -> None:
    """Store the attempt and, if this caller still owns the row, its new state."""
    if "lease_until" not in changes:
        changes = {**changes, "lease_until": None}
    channel = notification.channel
    with transaction.atomic():
        # Conditional on our claim's count: if our lease lapsed and another
        # worker claimed the row, its state is its own to write.
        Notification.objects.filter(
            id=notification.id, status=Notification.Status.PENDING, attempts=token
        ).update(**changes)
        NotificationAttempt.objects.create(
            transition_id=notification.transition_id,
            notification=notification,
            channel=f"{channel.kind}: {channel.name}"[:120],
            outcome=outcome,
            status_code=status_code,
            error=error[:500],
            duration_ms=duration_ms,
        )


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


# --- Pacing -------------------------------------------------------------------

# Services send Retry-After with their 429s; without one, pause the destination this long.
RATE_LIMIT_PAUSE = 10.0


def _pause_destination_if_asked(destination: str, exc: TransportError) -> None:
    """A Retry-After holds back every message to the destination, not only this one."""
    if exc.permanent:
        return
    if exc.retry_after is not None:
        pacing.hold(destination, exc.retry_after)
    elif exc.status_code == 429:
        pacing.hold(destination, RATE_LIMIT_PAUSE)


def _plan_paced_retry(notification: Notification, token: int, wait: float) -> Delivery:
    # Senders held back together would otherwise all come back in the same second.
    delay = wait + random.uniform(0, pacing.MAX_WAIT)
    log.info("Notification %s held back for pacing; next try in %.0f s", notification.id, delay)
    planned = _retry_later(
        notification,
        token,
        delay,
        f"Held back: the destination's next free slot is {wait:.0f} s away "
        f"(it takes a message every {transports.get(notification.channel.kind).PACE:g} s); "
        f"next try in {delay:.0f} s",
    )
    return dataclasses.replace(planned, paced=True)


# --- The sweeper --------------------------------------------------------------


def reserve_unsent_transitions(*, limit: int = SWEEP_LIMIT) -> list[tuple[int, int]]:
    """Lease pending transitions nobody is routing; return (id, lease token) pairs.

    These are transitions whose message was lost (a broker restart, a worker
    killed mid-task) or whose task ran out of retries.
    """
    return _reserve(
        Transition.objects.filter(notification_status=Status.PENDING),
        lease="notify_lease_until",
        attempts="notify_attempts",
        limit=limit,
    )


def reserve_unsent_notifications(*, limit: int = SWEEP_LIMIT) -> list[tuple[int, int]]:
    """Lease pending notifications nobody is sending; return (id, lease token) pairs."""
    return _reserve(
        Notification.objects.filter(status=Notification.Status.PENDING),
        lease="lease_until",
        attempts="attempts",
        limit=limit,
    )


def _reserve(pending, *, lease: str, attempts: str, limit: int) -> list[tuple[int, int]]:
    now = timezone.now()
    free = Q(**{f"{lease}__isnull": True}) | Q(**{f"{lease}__lte": now})
    candidates = (
        pending.filter(created_at__lte=now - timedelta(seconds=settings.UPTIME_SWEEP_GRACE))
        .filter(free)
        .order_by("created_at", "id")
        .values_list("id", attempts)[:limit]
    )
    reserved = []
    for row_id, count in candidates:
        # Each is leased for QUEUED_LEASE so the next sweep does not queue it
        # again while its message waits in a long queue; conditional on the
        # count read above, so a row a worker claimed meanwhile is left alone.
        taken = (
            pending.filter(id=row_id, **{attempts: count})
            .filter(free)
            .update(**{lease: now + QUEUED_LEASE})
        )
        if taken:
            reserved.append((row_id, count))
    return reserved


# --- Uptime's own connectivity (monitor.connectivity) ---------------------------


def route_incident_notices(incident_id: int) -> list[int]:
    """Route whichever of an incident's two messages is owed, in order; return new ids.

    Uptime's own network concerns every project: the messages go to every
    enabled default channel that wants down alerts.
    """
    created = []
    for notice in ("opened_notice", "ended_notice"):
        incident = ConnectivityIncident.objects.filter(id=incident_id).first()
        if incident is None or getattr(incident, notice) != Status.PENDING:
            continue
        if notice == "ended_notice" and incident.opened_notice == Status.PENDING:
            break  # "back" never goes out before "cannot reach"
        with transaction.atomic():
            # One router wins the notice; a second finds it routed already.
            won = ConnectivityIncident.objects.filter(
                id=incident_id, **{notice: Status.PENDING}
            ).update(**{notice: Status.SENT})
            if not won:
                continue
            created += routing.create(
                _connectivity_channels(),
                event=messages.DOWN if notice == "opened_notice" else messages.UP,
                key=f"incident{incident_id}-{'opened' if notice == 'opened_notice' else 'ended'}",
                context=_incident_context(incident, notice),
            )
    routing.enqueue_after_commit(created)
    return created


def _connectivity_channels() -> list[Channel]:
    return [
        channel
        for channel in Channel.objects.filter(enabled=True, is_default=True)
        if not channel.is_escalation and channel.wants(messages.DOWN)
    ]


def _incident_context(incident: ConnectivityIncident, notice: str) -> dict:
    if notice == "opened_notice":
        return {
            "title": f"Uptime cannot reach {incident.sites_unreachable} of "
            f"{incident.sites_checked} sites at once",
            "lines": [
                f"Since {messages.format_utc(incident.started_at)}: connection failures, "
                "timeouts, DNS or TLS errors.",
                "That is most likely Uptime's own network, not the sites. Their individual "
                "down alerts are held until it is back.",
            ],
        }
    back_at = incident.recovered_at or incident.ended_at
    still_down = incident.sites_still_down or 0
    if still_down:
        noun = "site is" if still_down == 1 else "sites are"
        last = f"{still_down} {noun} still down; their own alerts follow."
    else:
        last = "Every site it could not reach is up again."
    return {
        "title": "Uptime's network is back: it can reach its sites again",
        "lines": [
            f"Unreachable from {messages.format_utc(incident.started_at)} for about "
            f"{messages.format_duration(back_at - incident.started_at)}.",
            last,
        ],
    }


def sweep_connectivity() -> list[int]:
    """Review the open incident and route owed connectivity messages.

    Returns the ids of the down alerts released by an incident that ended now,
    for the caller to enqueue (they are pending again, so a later sweep would
    find them too).
    """
    released = review_open_incident(now=timezone.now())
    owed = ConnectivityIncident.objects.filter(
        Q(opened_notice=Status.PENDING) | Q(ended_notice=Status.PENDING)
    ).values_list("id", flat=True)
    for incident_id in owed:
        route_incident_notices(incident_id)
    return released
