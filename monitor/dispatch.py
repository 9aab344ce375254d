"""Scheduling: claim the sites that are due and move their next check on."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from sites.models import Site

CLAIM_LIMIT = 1000


def claim_due_sites(*, now: datetime | None = None, limit: int = CLAIM_LIMIT) -> list[int]:
    """Claim up to `limit` due sites and return their ids.

    Claiming moves next_check_at forward in the same transaction, so a second
    dispatcher (or the next tick) does not claim them again; SKIP LOCKED lets
    two dispatchers share the work instead of waiting on each other.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Site.objects.select_for_update(skip_locked=True)
            .filter(enabled=True, next_check_at__lte=now)
            .order_by("next_check_at")
            .only("id", "interval", "next_check_at")[:limit]
        )
        for site in due:
            site.next_check_at = next_due_time(site.next_check_at, site.interval, now)
        Site.objects.bulk_update(due, ["next_check_at"])
    return [site.id for site in due]


def next_due_time(due: datetime, interval: int, now: datetime) -> datetime:
    """Keep to the site's own rhythm; after a stall, check once and start afresh
    rather than once per missed interval."""
    step = timedelta(seconds=interval)
    following = due + step
    return following if following > now else now + step
