"""Celery task for history upkeep: beat runs prune_history hourly (summing
closed days, packing, then pruning)."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.utils import timezone

from monitor.history import prune_blocks, prune_checks, prune_rollups, roll_up_days
from monitor.packing import pack_checks

log = logging.getLogger(__name__)

# An hourly run deletes about an hour of checks; after an upgrade or an outage
# the backlog goes over several runs rather than in one long one.
PRUNE_TIME_BUDGET = 600.0


@shared_task
def prune_history() -> dict[str, int]:
    """Sum closed days' rollups, pack checks past UPTIME_CHECK_PACK_AFTER_HOURS,
    and delete what is past its retention."""
    now = timezone.now()
    days = roll_up_days(now=now)  # daily rollup rows written
    # On SQLite the pruner and the recorder share one write lock: leave gaps.
    pause = 0.05 if connection.vendor == "sqlite" else 0.0
    budget = {"time_budget": PRUNE_TIME_BUDGET, "pause": pause}
    packed = pack_checks(
        older_than=now - timedelta(hours=settings.UPTIME_CHECK_PACK_AFTER_HOURS), **budget
    )
    check_cutoff = now - timedelta(days=settings.UPTIME_CHECK_RETENTION_DAYS)
    # Rows too: any the packer has not reached yet (its budget ran out).
    checks = prune_checks(older_than=check_cutoff, **budget)
    blocks = prune_blocks(older_than=check_cutoff, **budget)
    rollups = prune_rollups(
        older_than=now - timedelta(days=settings.UPTIME_ROLLUP_RETENTION_DAYS), **budget
    )
    log.info(
        "summed %d daily rollup(s); packed %d check(s); pruned %d check(s) and %d packed "
        "hour(s) older than %d days and %d rollup(s) older than %d days",
        days,
        packed,
        checks,
        blocks,
        settings.UPTIME_CHECK_RETENTION_DAYS,
        rollups,
        settings.UPTIME_ROLLUP_RETENTION_DAYS,
    )
    return {"days": days, "packed": packed, "checks": checks, "blocks": blocks, "rollups": rollups}
