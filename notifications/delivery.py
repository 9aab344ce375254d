"""Delivering a transition's notification: at most once per claim, never lost.

A Transition row is the outbox entry. Whoever wants to deliver it first claims
it with a conditional UPDATE (healthchecks' pattern): the row must still be
pending and its lease free, and exactly one row must change. The claim sets a
lease and bumps notify_attempts; the network call happens after that UPDATE
has committed, outside any transaction.

Lease tokens: a message planned for a leased row (a task's own retry, or the
sweeper's re-enqueue) carries the notify_attempts value the lease was taken
under. It may claim the row despite the lease, but only while that value is
unchanged, and every claim changes it, so each token is good for one claim:
a redelivered or duplicated message finds the count moved on and does nothing.

Schedule, for a Slack that keeps failing: retries back off from 10 s to at
most 15 min (never sooner than Slack's Retry-After); after the task's retries
the lease runs out and the sweeper re-enqueues; a transition still pending
GIVE_UP_AFTER after it happened is marked failed as stale, because a day-old
"down" alert is noise rather than news.
"""

import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from monitor.models import Transition
from notifications.models import NotificationAttempt
from notifications.slack import TransportError, format_message, post_message

log = logging.getLogger(__name__)

CHANNEL = "slack"
POST_TIMEOUT = 10
# Longer than a post can take (POST_TIMEOUT, with a capped read), so a lease
# only expires under a worker that died mid-delivery.
LEASE = timedelta(minutes=2)
# A planned retry keeps the lease until its time plus this, so the sweeper
# does not queue a second message beside it.
RETRY_LEASE_MARGIN = timedelta(minutes=1)
# A message the sweeper queued gets this long to reach a worker before the
# sweeper queues another one.
QUEUED_LEASE = timedelta(minutes=5)
# The receiver enqueues right after commit; the sweeper leaves young
# transitions to it.
SWEEP_GRACE = timedelta(minutes=2)
SWEEP_LIMIT = 500
GIVE_UP_AFTER = timedelta(hours=24)
BACKOFF_BASE = 10.0
BACKOFF_CAP = 15 * 60.0

Status = Transition.NotificationStatus
Outcome = NotificationAttempt.Outcome
NOT_CLAIMED = "not_claimed"


@dataclass(frozen=True)
class Delivery:
    """What deliver_transition did: an Outcome value or NOT_CLAIMED.

    For a transient failure, `retry_in` is the planned delay in seconds and
    `lease_token` lets the retry message take over the lease held for it.
    """

    outcome: str
    retry_in: float | None = None
    lease_token: int | None = None


def deliver_transition(transition_id: int, *, lease_token: int | None = None) -> Delivery:
    """Claim a pending transition and send its Slack message; record the attempt."""
    if not claim_transition(transition_id, lease_token=lease_token):
        # Someone else holds the lease, or it is sent, failed or skipped already.
        return Delivery(NOT_CLAIMED)
    transition = (
        Transition.objects.select_related("site", "check_result").filter(id=transition_id).first()
    )
    if transition is None:  # its site was deleted just now
        return Delivery(NOT_CLAIMED)
    token = transition.notify_attempts
    if transition.created_at < timezone.now() - GIVE_UP_AFTER:
        return _give_up(transition, token)
    webhook_url = settings.SLACK_WEBHOOK_URL
    if not webhook_url:
        return _skip(transition, token)
    return _send(transition, token, webhook_url)


def claim_transition(transition_id: int, *, lease_token: int | None = None) -> bool:
    """Take the delivery lease on a pending transition; True if this caller owns it."""
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


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter for the given attempt (1-based), ≥ Retry-After."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(max(attempt - 1, 0), 20))
    # "Equal jitter": half fixed, half random, so retries of many transitions
    # spread out but none comes back almost at once.
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    return max(delay, retry_after or 0.0)


def _send(transition: Transition, token: int, webhook_url: str) -> Delivery:
    started = time.monotonic()
    try:
        status_code = post_message(webhook_url, format_message(transition), timeout=POST_TIMEOUT)
    except TransportError as exc:
        duration_ms = _elapsed_ms(started)
        if exc.permanent:
            return _fail(transition, token, exc, duration_ms)
        return _plan_retry(transition, token, exc, duration_ms)
    _finish(
        transition,
        token,
        {"notification_status": Status.SENT, "notified_at": timezone.now()},
        outcome=Outcome.DELIVERED,
        status_code=status_code,
        duration_ms=_elapsed_ms(started),
    )
    log.info("Sent Slack notification for transition %s (%s)", transition.id, transition)
    return Delivery(Outcome.DELIVERED)


def _fail(transition: Transition, token: int, exc: TransportError, duration_ms: int) -> Delivery:
    _finish(
        transition,
        token,
        {"notification_status": Status.FAILED},
        outcome=Outcome.FAILED,
        status_code=exc.status_code,
        error=exc.message,
        duration_ms=duration_ms,
    )
    log.error("Slack notification for transition %s failed for good: %s", transition.id, exc)
    return Delivery(Outcome.FAILED)


def _plan_retry(
    transition: Transition, token: int, exc: TransportError, duration_ms: int
) -> Delivery:
    delay = retry_delay(token, exc.retry_after)
    lease_until = timezone.now() + timedelta(seconds=delay) + RETRY_LEASE_MARGIN
    _finish(
        transition,
        token,
        {"notify_lease_until": lease_until},
        outcome=Outcome.RETRYING,
        status_code=exc.status_code,
        error=f"{exc.message}; next try in {delay:.0f} s",
        duration_ms=duration_ms,
    )
    log.warning(
        "Slack notification for transition %s failed (%s); next try in %.0f s",
        transition.id,
        exc,
        delay,
    )
    return Delivery(Outcome.RETRYING, retry_in=delay, lease_token=token)


def _skip(transition: Transition, token: int) -> Delivery:
    _finish(
        transition,
        token,
        {"notification_status": Status.SKIPPED},
        outcome=Outcome.SKIPPED,
        error="SLACK_WEBHOOK_URL is not set",
    )
    log.info(
        "no SLACK_WEBHOOK_URL set, skipping notification for transition %s (%s)",
        transition.id,
        transition,
    )
    return Delivery(Outcome.SKIPPED)


def _give_up(transition: Transition, token: int) -> Delivery:
    age = GIVE_UP_AFTER.total_seconds() / 3600
    _finish(
        transition,
        token,
        {"notification_status": Status.FAILED},
        outcome=Outcome.FAILED,
        error=f"Gave up: still not delivered {age:g} h after the change",
    )
    log.error("Gave up on the stale notification for transition %s", transition.id)
    return Delivery(Outcome.FAILED)


def _finish(
    transition: Transition,
    token: int,
    changes: dict,
    *,
    outcome: str,
    status_code: int | None = None,
    error: str = "",
    duration_ms: int | None = None,
) -> None:
    """Store the attempt and, if this caller still owns the row, its new state."""
    if "notify_lease_until" not in changes:
        changes = {**changes, "notify_lease_until": None}
    with transaction.atomic():
        # Conditional on our claim's count: if our lease lapsed and another
        # worker claimed the row, its state is its own to write.
        Transition.objects.filter(
            id=transition.id, notification_status=Status.PENDING, notify_attempts=token
        ).update(**changes)
        NotificationAttempt.objects.create(
            transition=transition,
            channel=CHANNEL,
            outcome=outcome,
            status_code=status_code,
            error=error[:500],
            duration_ms=duration_ms,
        )


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


# --- The sweeper --------------------------------------------------------------


def reserve_unsent_transitions(*, limit: int = SWEEP_LIMIT) -> list[tuple[int, int]]:
    """Lease pending transitions nobody is working on; return (id, lease token) pairs.

    These are transitions whose message was lost (a broker restart, a worker
    killed mid-task) or whose task ran out of retries. Each is leased for
    QUEUED_LEASE so the next sweep does not queue it again while its message
    waits in a long queue.
    """
    now = timezone.now()
    candidates = (
        Transition.objects.filter(
            notification_status=Status.PENDING, created_at__lte=now - SWEEP_GRACE
        )
        .filter(Q(notify_lease_until__isnull=True) | Q(notify_lease_until__lte=now))
        .order_by("created_at", "id")
        .values_list("id", "notify_attempts")[:limit]
    )
    reserved = []
    for transition_id, attempts in candidates:
        # Conditional on the count read above: a worker that claimed the row
        # meanwhile has changed it, and the row is then left alone.
        taken = (
            Transition.objects.filter(
                id=transition_id, notification_status=Status.PENDING, notify_attempts=attempts
            )
            .filter(Q(notify_lease_until__isnull=True) | Q(notify_lease_until__lte=now))
            .update(notify_lease_until=now + QUEUED_LEASE)
        )
        if taken:
            reserved.append((transition_id, attempts))
    return reserved
