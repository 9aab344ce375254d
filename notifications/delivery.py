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

from monitor import policy
from monitor.connectivity import review_open_incident
from monitor.models import ConnectivityIncident, Transition
from notifications import pacing
from notifications.models import NotificationAttempt
from notifications.slack import (
    TransportError,
    format_message,
    format_outage_ended,
    format_outage_started,
    post_message,
)

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
# The receiver enqueues right after commit; the sweeper leaves transitions
# younger than settings.UPTIME_SWEEP_GRACE seconds to it.
SWEEP_LIMIT = 500
GIVE_UP_AFTER = timedelta(hours=24)
BACKOFF_BASE = 10.0
BACKOFF_CAP = 15 * 60.0

Status = Transition.NotificationStatus
Outcome = NotificationAttempt.Outcome
NOT_CLAIMED = "not_claimed"
WITHHELD = "withheld"
MUTED = "muted"


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
    # Slack takes about one message a second per webhook, whichever worker
    # sends it; a free slot too far off is a planned retry, not a sleeping worker.
    held_for = pacing.wait_for_turn(webhook_url)
    if held_for is not None:
        return _plan_paced_retry(transition, token, held_for)
    started = time.monotonic()
    try:
        status_code = post_message(webhook_url, format_message(transition), timeout=POST_TIMEOUT)
    except TransportError as exc:
        duration_ms = _elapsed_ms(started)
        _pause_webhook_if_asked(webhook_url, exc)
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
    log.warning(
        "Slack notification for transition %s failed (%s); next try in %.0f s",
        transition.id,
        exc,
        delay,
    )
    return _retry_later(
        transition,
        token,
        delay,
        f"{exc.message}; next try in {delay:.0f} s",
        status_code=exc.status_code,
        duration_ms=duration_ms,
    )


def _retry_later(
    transition: Transition, token: int, delay: float, error: str, **attempt
) -> Delivery:
    """Record a RETRYING attempt and keep the lease until the retry is due.

    The retry message takes the lease over with `token`; if it is lost, the
    sweeper queues the transition once the lease has run out.
    """
    lease_until = timezone.now() + timedelta(seconds=delay) + RETRY_LEASE_MARGIN
    _finish(
        transition,
        token,
        {"notify_lease_until": lease_until},
        outcome=Outcome.RETRYING,
        error=error,
        **attempt,
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


def _queue_released(transition_ids: list[int]) -> None:
    """Queue the alerts a recovered parent released; the sweeper finds them if this fails."""
    if not transition_ids:
        return
    from notifications.receivers import enqueue_notification  # it imports this module

    for transition_id in transition_ids:
        enqueue_notification(transition_id)


def _mute(transition: Transition, token: int, reason: str) -> Delivery:
    _finish(
        transition,
        token,
        {"notification_status": Status.MUTED},
        outcome=Outcome.SKIPPED,
        error=reason,
    )
    log.info("Notification for transition %s muted (%s)", transition.id, reason)
    return Delivery(MUTED)


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
            notification_status=Status.PENDING,
            created_at__lte=now - timedelta(seconds=settings.UPTIME_SWEEP_GRACE),
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


# --- Pacing -------------------------------------------------------------------

# Slack sends Retry-After with its 429s; without one, pause the webhook this long.
RATE_LIMIT_PAUSE = 10.0


def _pause_webhook_if_asked(webhook_url: str, exc: TransportError) -> None:
    """Slack's Retry-After holds back every message to the webhook, not only this one."""
    if exc.permanent:
        return
    if exc.retry_after is not None:
        pacing.hold(webhook_url, exc.retry_after)
    elif exc.status_code == 429:
        pacing.hold(webhook_url, RATE_LIMIT_PAUSE)


def _plan_paced_retry(transition: Transition, token: int, wait: float) -> Delivery:
    # Senders held back together would otherwise all come back in the same second.
    delay = wait + random.uniform(0, pacing.MAX_WAIT)
    log.info(
        "Slack notification for transition %s held back for pacing; next try in %.0f s",
        transition.id,
        delay,
    )
    return _retry_later(
        transition,
        token,
        delay,
        f"Held back: the webhook's next free slot is {wait:.0f} s away "
        f"(Slack takes about one message a second); next try in {delay:.0f} s",
    )


# --- Uptime's own connectivity (monitor.connectivity) ---------------------------


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
    _finish(
        transition,
        token,
        {"notification_status": Status.WITHHELD},
        outcome=Outcome.SKIPPED,
        error=reason,
    )
    log.info("Notification for transition %s withheld (%s)", transition.id, reason)
    if incident is not None and incident.opened_notice == Status.PENDING:
        deliver_incident_notices(incident.id)
    return Delivery(WITHHELD)


def deliver_incident_notices(incident_id: int) -> None:
    """Send whichever of an incident's two messages is still owed, in order."""
    for notice in ("opened_notice", "ended_notice"):
        if _deliver_incident_notice(incident_id, notice) == Status.PENDING:
            break  # "back" never goes out before "cannot reach"


def _deliver_incident_notice(incident_id: int, notice: str) -> str:
    now = timezone.now()
    lease_until = now + LEASE
    # Claimed like a transition: one conditional UPDATE, one winner; the lease
    # value is the winner's token for writing the result.
    claimed = (
        ConnectivityIncident.objects.filter(id=incident_id, **{notice: Status.PENDING})
        .filter(Q(notice_lease_until__isnull=True) | Q(notice_lease_until__lte=now))
        .update(notice_lease_until=lease_until)
    )
    incident = ConnectivityIncident.objects.filter(id=incident_id).first()
    if incident is None:
        return Status.FAILED
    if not claimed:
        return getattr(incident, notice) or Status.SKIPPED
    result = _post_incident_notice(incident, notice)
    ConnectivityIncident.objects.filter(id=incident_id, notice_lease_until=lease_until).update(
        **{notice: result}, notice_lease_until=None
    )
    return result


def _post_incident_notice(incident: ConnectivityIncident, notice: str) -> str:
    webhook_url = settings.SLACK_WEBHOOK_URL
    if not webhook_url:
        return Status.SKIPPED
    if notice == "opened_notice":
        text = format_outage_started(incident)
    else:
        text = format_outage_ended(incident)
    if pacing.wait_for_turn(webhook_url) is not None:
        return Status.PENDING  # Slack's pace has no slot soon; the next sweep sends it
    try:
        post_message(webhook_url, text, timeout=POST_TIMEOUT)
    except TransportError as exc:
        _pause_webhook_if_asked(webhook_url, exc)
        # A transient failure stays pending: the next sweep tries again.
        log.warning("Connectivity message (%s of incident %s) failed: %s", notice, incident.id, exc)
        return Status.FAILED if exc.permanent else Status.PENDING
    log.info("Sent the connectivity message (%s) of incident %s", notice, incident.id)
    return Status.SENT


def sweep_connectivity() -> list[int]:
    """Review the open incident and send owed connectivity messages.

    Returns the ids of the down alerts released by an incident that ended now,
    for the caller to enqueue (they are pending again, so a later sweep would
    find them too).
    """
    released = review_open_incident(now=timezone.now())
    owed = ConnectivityIncident.objects.filter(
        Q(opened_notice=Status.PENDING) | Q(ended_notice=Status.PENDING)
    ).values_list("id", flat=True)
    for incident_id in owed:
        deliver_incident_notices(incident_id)
    return released
