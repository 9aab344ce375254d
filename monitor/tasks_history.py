"""Celery task for history upkeep: beat runs prune_history hourly."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.utils import timezone

from monitor.history import prune_checks, prune_rollups

log = logging.getLogger(__name__)

# An hourly run deletes about an hour of checks; after an upgrade or an outage
# the backlog goes over several runs rather than in one long one.
PRUNE_TIME_BUDGET = 600.0


@shared_task
def prune_history() -> dict[str, int]:
    """Delete checks and rollups older than their retention periods."""
    now = timezone.now()
    # On SQLite the pruner and the recorder share one write lock: leave gaps.
    pause = 0.05 if connection.vendor == "sqlite" else 0.0
    checks = prune_checks(
        older_than=now - timedelta(days=settings.UPTIME_CHECK_RETENTION_DAYS),
        time_budget=PRUNE_TIME_BUDGET,
        pause=pause,
    )
    rollups = prune_rollups(
        older_than=now - timedelta(days=settings.UPTIME_ROLLUP_RETENTION_DAYS),
        time_budget=PRUNE_TIME_BUDGET,
        pause=pause,
    )
    log.info(
        "pruned %d check(s) older than %d days and %d rollup(s) older than %d days",
        checks,
        settings.UPTIME_CHECK_RETENTION_DAYS,
        rollups,
        settings.UPTIME_ROLLUP_RETENTION_DAYS,
    )
    return {"checks": checks, "rollups": rollups}
