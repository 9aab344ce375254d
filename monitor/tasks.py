"""Celery tasks: thin wrappers that take ids and call the domain functions."""

import logging
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from kombu import Producer

from monitor import heartbeat
from monitor.checking import check_sites
from monitor.dispatch import CLAIM_LIMIT, claim_due_sites
from sites.models import Site

log = logging.getLogger(__name__)


@shared_task
def dispatch_due_checks() -> int:
    """Beat's periodic tick. Beat runs it itself (uptime.beat), so no worker
    spends a task on it every second; sent as a message, a worker runs it."""
    return dispatch(producer=None)


def dispatch(*, producer: Producer | None) -> int:
    """Claim every due site and queue its check (through `producer`, if given)."""
    total = 0
    now = timezone.now()
    while True:
        site_ids = claim_due_sites(now, limit=CLAIM_LIMIT)
        queue_checks(site_ids, claim=now, producer=producer)
        total += len(site_ids)
        if len(site_ids) < CLAIM_LIMIT:
            if total:
                log.info("queued checks for %d due site(s)", total)
            return total


@shared_task
def run_checks(site_ids: list[int], claim: str | None = None) -> int:
    """Probe a batch of sites and record the batch.

    `claim` (ISO 8601) names the dispatcher's claim on these sites: only sites
    still holding it are checked, so running this twice checks each once.
    """
    claimed = datetime.fromisoformat(claim) if claim else None
    return len(check_sites(site_ids, claim=claimed))


def queue_checks(
    site_ids: list[int], *, claim: datetime | None = None, producer: Producer | None = None
) -> int:
    """Queue checks for the given sites, in batches of UPTIME_DISPATCH_BATCH."""
    size = settings.UPTIME_DISPATCH_BATCH
    token = claim.isoformat() if claim else None
    for start in range(0, len(site_ids), size):
        run_checks.apply_async((site_ids[start : start + size], token), producer=producer)
    return len(site_ids)


def queue_all_checks(*, project_ids: list[int] | None = None) -> int:
    """Queue a check of every enabled site now (the seed's check-all), or of some projects'."""
    sites = Site.objects.filter(enabled=True)
    if project_ids is not None:
        sites = sites.filter(project_id__in=project_ids)
    ids = list(sites.values_list("id", flat=True))
    return queue_checks(ids)


@shared_task
def evaluate_heartbeats() -> int:
    """Beat's periodic tick for heartbeats: record the deadlines passed without a ping."""
    return heartbeat.evaluate_heartbeats()
