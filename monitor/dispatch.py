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

After a stall (beat stopped, a restart, a long database lock) many sites are
overdue at once. Checking them all in the first tick would be a load spike of
our own making, and would leave them due together ever after. Instead a site
later than late_allowance() is not claimed but moved to resume_time(): a
stable point within how late it is (at most its interval), chosen by its id,
so 20,000 sites overdue by a minute resume spread over that minute, each in
a slot of its own, and keep those spread slots afterwards. Sites only a
little late (the normal lag of a tick), and sites whose claim expired (their
check was lost, see above), are claimed at once, as before.

PostgreSQL claims a whole batch in one UPDATE … RETURNING; SQLite (one
writer at a time anyway) goes through the ORM. Both apply the same rules
(next_due_time, resume_time).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from monitor.pgindex import execute_by_index
from sites.models import Site

CLAIM_LIMIT = 5000
# Knuth's multiplicative hash: consecutive ids land far apart in [0, 1), so
# sites added together (an import, a script) resume evenly spread.
_HASH_MULTIPLIER = 2654435761
_HASH_ID_MODULUS = 2**31  # keeps id * multiplier inside PostgreSQL's bigint
_HASH_RANGE = 2**32


def claim_grace() -> timedelta:
    """How long after its own timeout a queued check may take to be recorded
    before the site is claimed again (a lost message, a killed worker)."""
    return timedelta(seconds=settings.UPTIME_CLAIM_GRACE)


def late_allowance() -> timedelta:
    """How late a site may be and still be claimed at once: a few dispatch
    ticks (a tick's normal lag), so only a real stall spreads sites out."""
    return timedelta(seconds=max(5, 3 * settings.UPTIME_DISPATCH_EVERY))


def claim_due_sites(now: datetime | None = None, *, limit: int = CLAIM_LIMIT) -> list[int]:
    """Claim up to `limit` due sites, most overdue first, and return their ids.

    Sites overdue by more than late_allowance() are moved to resume_time()
    instead of being claimed; fewer than `limit` ids means no due site is left.
    The claim is named `now`: pass it on with the sites' check.
    """
    now = now or timezone.now()
    claim_batch = _claim_postgresql if connection.vendor == "postgresql" else _claim_orm
    claimed: list[int] = []
    while len(claimed) < limit:
        want = limit - len(claimed)
        seen, ids = claim_batch(now, want)
        claimed += ids
        if seen < want:  # every due site has been claimed or moved
            break
    return claimed


def next_due_time(due: datetime, interval: int, now: datetime) -> datetime:
    """Keep to the site's own rhythm; after a stall, check once and start afresh
    rather than once per missed interval."""
    step = timedelta(seconds=interval)
    following = due + step
    return following if following > now else now + step


def spread_fraction(site_id: int) -> float:
    """A stable point in [0, 1) for the site, evenly spread over consecutive ids."""
    return (site_id % _HASH_ID_MODULUS) * _HASH_MULTIPLIER % _HASH_RANGE / _HASH_RANGE


def resume_time(site_id: int, due: datetime, interval: int, now: datetime) -> datetime:
    """When a site overdue after a stall is checked: at its own point within
    how late it already is, capped at one interval. So no site waits more
    than twice as long as the stall made it wait, and the overdue sites
    arrive at about the rate they fell due instead of all in one tick."""
    window = min((now - due).total_seconds(), interval)
    return now + timedelta(seconds=spread_fraction(site_id) * window)


def _stalled(site: Site, stalled_before: datetime) -> bool:
    """Left unchecked by a stall: late beyond the allowance with no claim. A
    site whose claim expired is owed its lost check now, not spread."""
    return site.next_check_at < stalled_before and site.claimed_at is None


def _claim_orm(now: datetime, limit: int) -> tuple[int, list[int]]:
    """One batch: (due sites seen, ids claimed)."""
    stalled_before = now - late_allowance()
    with transaction.atomic():
        due = list(
            Site.objects.select_for_update(skip_locked=True)
            .filter(enabled=True, next_check_at__lte=now)
            .filter(Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lt=now))
            .order_by("next_check_at")
            .only("id", "interval", "timeout", "next_check_at", "claimed_at")[:limit]
        )
        claimed, moved = [], []
        for site in due:
            if _stalled(site, stalled_before):
                site.next_check_at = resume_time(site.id, site.next_check_at, site.interval, now)
                moved.append(site)
                continue
            site.next_check_at = next_due_time(site.next_check_at, site.interval, now)
            site.claim_expires_at = now + timedelta(seconds=site.timeout) + claim_grace()
            site.claimed_at = now
            claimed.append(site)
        Site.objects.bulk_update(claimed, ["next_check_at", "claim_expires_at", "claimed_at"])
        Site.objects.bulk_update(moved, ["next_check_at"])
    return len(due), [site.id for site in claimed]


_CLAIM_SQL = """
WITH due AS (
    SELECT id, (next_check_at < %(stalled_before)s AND claimed_at IS NULL) AS stalled
    FROM sites_site
    WHERE enabled AND next_check_at <= %(now)s
      AND (claim_expires_at IS NULL OR claim_expires_at < %(now)s)
    ORDER BY next_check_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE sites_site AS s SET
    next_check_at = CASE
        -- resume_time(): the site's own point within how late it is, at most
        -- one interval.
        WHEN due.stalled
        THEN %(now)s + make_interval(secs =>
            mod(mod(s.id, %(id_modulus)s) * %(multiplier)s, %(range)s)::float8 / %(range)s
            * least(extract(epoch FROM %(now)s - s.next_check_at)::float8, s.interval))
        -- next_due_time(): the next beat of the site's rhythm, or now + interval.
        WHEN s.next_check_at + make_interval(secs => s.interval) > %(now)s
        THEN s.next_check_at + make_interval(secs => s.interval)
        ELSE %(now)s + make_interval(secs => s.interval)
    END,
    claim_expires_at = CASE WHEN due.stalled THEN s.claim_expires_at
        ELSE %(now)s + make_interval(secs => s.timeout) + %(grace)s END,
    claimed_at = CASE WHEN due.stalled THEN s.claimed_at ELSE %(now)s END
FROM due
WHERE s.id = due.id
RETURNING s.id, due.stalled
"""


def _claim_params(now: datetime, limit: int) -> dict:
    return {
        "now": now,
        "limit": limit,
        "grace": claim_grace(),
        "stalled_before": now - late_allowance(),
        "id_modulus": _HASH_ID_MODULUS,
        "multiplier": _HASH_MULTIPLIER,
        "range": _HASH_RANGE,
    }


def _claim_postgresql(now: datetime, limit: int) -> tuple[int, list[int]]:
    """One batch: (due sites seen, ids claimed)."""
    params = _claim_params(now, limit)
    # One statement, so one transaction by itself: no BEGIN and COMMIT round
    # trips around it (in autocommit mode the SET LOCALs and the claim run in
    # one implicit transaction). In next_check_at order from site_due_idx
    # (monitor.pgindex).
    with connection.cursor() as cursor:
        execute_by_index(cursor, _CLAIM_SQL, params)
        rows = cursor.fetchall()
    return len(rows), [site_id for site_id, stalled in rows if not stalled]
