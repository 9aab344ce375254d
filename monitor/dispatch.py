"""Scheduling: claim the sites that are due and move their next check on.

Claiming moves next_check_at forward and sets a claim that lasts until the
check's result could have been recorded, in the same statement, so neither a
second dispatcher nor the next tick queues the site again. SKIP LOCKED lets
two dispatchers share the work instead of waiting on each other.

A claim is named by the moment it was made (claimed_at, the `now` of the
claim). The queued task carries it and the recorder keeps a result only while
the site still holds that claim, then clears it: one check per claim, and so
per due time, however often the task runs (redelivery after a crash, a
message restored by the broker, a late worker after the claim expired).

PostgreSQL claims a whole batch in one UPDATE … RETURNING; SQLite (one
writer at a time anyway) goes through the ORM. Both apply next_due_time's rule.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from sites.models import Site

CLAIM_LIMIT = 5000


def claim_grace() -> timedelta:
    """How long after its own timeout a queued check may take to be recorded
    before the site is claimed again (a lost message, a killed worker)."""
    return timedelta(seconds=settings.UPTIME_CLAIM_GRACE)


def claim_due_sites(now: datetime | None = None, *, limit: int = CLAIM_LIMIT) -> list[int]:
    """Claim up to `limit` due sites, most overdue first, and return their ids.

    The claim is named `now`: pass it on with the sites' check.
    """
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        return _claim_postgresql(now, limit)
    return _claim_orm(now, limit)


def next_due_time(due: datetime, interval: int, now: datetime) -> datetime:
    """Keep to the site's own rhythm; after a stall, check once and start afresh
    rather than once per missed interval."""
    step = timedelta(seconds=interval)
    following = due + step
    return following if following > now else now + step


def _claim_orm(now: datetime, limit: int) -> list[int]:
    with transaction.atomic():
        due = list(
            Site.objects.select_for_update(skip_locked=True)
            .filter(enabled=True, next_check_at__lte=now)
            .filter(Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lt=now))
            .order_by("next_check_at")
            .only("id", "interval", "timeout", "next_check_at")[:limit]
        )
        for site in due:
            site.next_check_at = next_due_time(site.next_check_at, site.interval, now)
            site.claim_expires_at = now + timedelta(seconds=site.timeout) + claim_grace()
            site.claimed_at = now
        Site.objects.bulk_update(due, ["next_check_at", "claim_expires_at", "claimed_at"])
    return [site.id for site in due]


_CLAIM_SQL = """
WITH due AS (
    SELECT id FROM sites_site
    WHERE enabled AND next_check_at <= %(now)s
      AND (claim_expires_at IS NULL OR claim_expires_at < %(now)s)
    ORDER BY next_check_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE sites_site AS s SET
    -- next_due_time(): the next beat of the site's rhythm, or now + interval
    -- after a stall.
    next_check_at = CASE
        WHEN s.next_check_at + make_interval(secs => s.interval) > %(now)s
        THEN s.next_check_at + make_interval(secs => s.interval)
        ELSE %(now)s + make_interval(secs => s.interval)
    END,
    claim_expires_at = %(now)s + make_interval(secs => s.timeout) + %(grace)s,
    claimed_at = %(now)s
FROM due
WHERE s.id = due.id
RETURNING s.id
"""


def _claim_postgresql(now: datetime, limit: int) -> list[int]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"now": now, "limit": limit, "grace": claim_grace()})
        return [row[0] for row in cursor.fetchall()]
