"""Pacing posts to a webhook: about one message a second, across every worker.

Slack accepts about one message per second per incoming webhook and answers
429 with Retry-After beyond that (https://api.slack.com/apis/rate-limits).
Workers on several machines post to the same webhook, so the schedule is a
database row per webhook (WebhookPacing). A sender takes the next free slot
with a compare-and-set UPDATE on next_send_at, which behaves the same on
SQLite and PostgreSQL and holds no lock, then sleeps until that slot outside
any transaction. A slot further off than MAX_WAIT is not taken: the caller
plans a retry for then rather than keep a worker asleep.

When Slack asks for a pause (`hold`), the next free slot moves past it, and a
sender that took a slot before the pause but inside it takes a new one when
it wakes, so every message to that webhook waits.
"""

import hashlib
import time
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications.models import WebhookPacing

INTERVAL = timedelta(seconds=1)
# A worker sleeps at most this long for its slot; a later slot is a retry.
MAX_WAIT = 5.0
# Each lost compare-and-set means another sender took a slot; past this many
# in a row the caller tries again a little later rather than spin.
MAX_ROUNDS = 20
# A pause that lands while a sender sleeps sends it back for a new slot; after
# this many the caller tries again later.
MAX_REQUEUES = 3
NEVER = datetime(2000, 1, 1, tzinfo=UTC)


def webhook_key(webhook_url: str) -> str:
    """The row key for a webhook: a hash, because the URL's path is its secret token.

    Slack's tokens are long and random, so the hash cannot be reversed by guessing.
    """
    return hashlib.sha256(webhook_url.encode()).hexdigest()


def wait_for_turn(
    webhook_url: str, *, max_wait: float = MAX_WAIT, interval: float = 1.0
) -> float | None:
    """Sleep until this webhook's next free slot and return None: the caller may send.

    If that slot is more than `max_wait` seconds away, return the seconds
    until it instead, without taking it and without sleeping.
    """
    key = webhook_key(webhook_url)
    _ensure_row(key)
    for _ in range(MAX_REQUEUES):
        slot, wait = _take_slot(key, max_wait=max_wait, interval=timedelta(seconds=interval))
        if slot is None:
            return wait
        time.sleep(max(0.0, (slot - timezone.now()).total_seconds()))
        if not WebhookPacing.objects.filter(webhook_key=key, held_until__gt=slot).exists():
            return None
    return max(_seconds_to_next_slot(key), interval)


def hold(webhook_url: str, seconds: float) -> None:
    """Slack asked for a pause: nothing goes to this webhook for `seconds` from now."""
    key = webhook_key(webhook_url)
    _ensure_row(key)
    until = timezone.now() + timedelta(seconds=seconds)
    rows = WebhookPacing.objects.filter(webhook_key=key)
    # Each UPDATE only moves its time later, so of two overlapping pauses the
    # longer one wins whatever the order. The slot moves first: a sender woken
    # by the new held_until then finds its next slot past the pause.
    with transaction.atomic():
        rows.filter(next_send_at__lt=until).update(next_send_at=until)
        rows.filter(Q(held_until__isnull=True) | Q(held_until__lt=until)).update(held_until=until)


def _ensure_row(key: str) -> None:
    # INSERT … ON CONFLICT DO NOTHING: two workers meeting a new webhook at
    # once both succeed, and one row results.
    WebhookPacing.objects.bulk_create(
        [WebhookPacing(webhook_key=key, next_send_at=NEVER)], ignore_conflicts=True
    )


def _take_slot(
    key: str, *, max_wait: float, interval: timedelta = INTERVAL
) -> tuple[datetime | None, float]:
    """(the slot, seconds to it) if the next free one is within max_wait, else (None, seconds)."""
    for _ in range(MAX_ROUNDS):
        seen = WebhookPacing.objects.values_list("next_send_at", flat=True).get(webhook_key=key)
        now = timezone.now()
        slot = max(now, seen)
        wait = (slot - now).total_seconds()
        if wait > max_wait:
            return None, wait
        # Compare-and-set: of the senders that read the same next_send_at,
        # exactly one changes the row, and only it owns this slot.
        taken = WebhookPacing.objects.filter(webhook_key=key, next_send_at=seen).update(
            next_send_at=slot + interval
        )
        if taken:
            return slot, wait
    return None, interval.total_seconds()


def _seconds_to_next_slot(key: str) -> float:
    seen = WebhookPacing.objects.values_list("next_send_at", flat=True).get(webhook_key=key)
    return (seen - timezone.now()).total_seconds()
