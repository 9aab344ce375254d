"""Celery tasks: thin wrappers that take ids and call the domain functions."""

import logging
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from kombu import Producer

from monitor import heartbeat, locations
from monitor.checking import check_sites, probe_all
from monitor.dispatch import CLAIM_LIMIT, claim_due_sites
from monitor.models import Location
from monitor.probe import ProbeResult, Target
from monitor.recording import record_results
from sites.models import Site
from uptime.broker import TO_CENTRAL

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
    """Queue checks for the given sites, in batches of UPTIME_DISPATCH_BATCH:
    for each of their locations, on that location's queue (monitor.locations)."""
    size = settings.UPTIME_DISPATCH_BATCH
    token = claim.isoformat() if claim else None
    routes = locations.route(site_ids)
    remote = [ids for location, ids in routes if location is not None]
    targets = probe_targets({i for ids in remote for i in ids}) if remote else {}
    for location, ids in routes:
        for start in range(0, len(ids), size):
            batch = ids[start : start + size]
            if location is None:  # the central side: probe and record here
                run_checks.apply_async((batch, token), producer=producer)
            else:
                send_probes(location, batch, targets, claim=claim, producer=producer)
    return len(site_ids)


def probe_targets(site_ids: set[int]) -> dict[int, list]:
    """What a location needs to probe each site, by id: it has no database."""
    rows = (
        Site.objects.filter(id__in=site_ids, enabled=True)
        .exclude(kind="heartbeat")
        .values_list("id", "url", "timeout", "kind", "options", "secrets")
    )
    return {
        site_id: [site_id, url, timeout, kind, {**options, **secrets} if secrets else options]
        for site_id, url, timeout, kind, options, secrets in rows
    }


def send_probes(
    location: Location,
    site_ids: list[int],
    targets: dict[int, list] | None = None,
    *,
    claim: datetime | None,
    producer=None,
) -> None:
    """Ask a remote location to probe these sites: the message carries
    everything the probe needs. It expires when its claim does, so a
    location back after a while does not work through a backlog nobody
    would record."""
    if targets is None:
        targets = probe_targets(set(site_ids))
    batch = [targets[i] for i in site_ids if i in targets]
    if not batch:
        return
    longest = max(target[2] for target in batch)
    probe_checks.apply_async(
        (location.name, claim.isoformat() if claim else None, batch),
        queue=locations.queue_name(location.name),
        expires=longest + settings.UPTIME_CLAIM_GRACE,
        producer=producer,
    )


@shared_task
def probe_checks(location: str, claim: str | None, targets: list[list]) -> int:
    """At a location: probe what the central side asked, send the results back.

    Runs without a database. Results go back as they arrive (fast sites do
    not wait for slow ones), signed with this location's token.
    """
    if location != settings.UPTIME_LOCATION:
        log.error("a check for location %s reached location %s", location, settings.UPTIME_LOCATION)
        return 0
    batch = [
        Target(url=url, timeout=timeout, site_id=site_id, kind=kind, options=options)
        for site_id, url, timeout, kind, options in targets
    ]

    def send_back(results: list[ProbeResult]) -> None:
        payload = {"location": location, "claim": claim, "results": pack(results)}
        record_probes.apply_async(
            (payload, locations.sign(payload, settings.UPTIME_LOCATION_TOKEN)),
            queue=TO_CENTRAL,
        )

    return len(probe_all(batch, on_results=send_back))


@shared_task
def record_probes(payload: dict, signature: str) -> int:
    """At the central side: record what a location sent back, if it is signed by that location."""
    location = Location.objects.filter(name=payload.get("location"), enabled=True).first()
    if location is None or not locations.verify(location, payload, signature):
        log.warning("dropped results claiming to be from location %r", payload.get("location"))
        return 0
    claim = payload.get("claim")
    results = unpack(payload["results"], location_id=location.id)
    record_results(results, claim=datetime.fromisoformat(claim) if claim else None)
    return len(results)


@shared_task
def location_heartbeat(payload: dict, signature: str) -> None:
    """At the central side: a location says it is there."""
    location = Location.objects.filter(name=payload.get("location")).first()
    if location is None or not locations.verify(location, payload, signature):
        log.warning("dropped a heartbeat claiming to be from location %r", payload.get("location"))
        return
    locations.record_heartbeat(location, hostname=str(payload.get("hostname", "")))


_RESULT_FIELDS = [
    "site_id",
    "checked_at",
    "up",
    "status_code",
    "response_ms",
    "error_kind",
    "error_message",
    "cert_expires_at",
]


def pack(results: list[ProbeResult]) -> list[list]:
    """Results as JSON-able rows (times as ISO 8601)."""
    return [
        [
            r.site_id,
            r.checked_at.isoformat(),
            r.up,
            r.status_code,
            r.response_ms,
            r.error_kind,
            r.error_message,
            r.cert_expires_at.isoformat() if r.cert_expires_at else None,
        ]
        for r in results
    ]


def unpack(rows: list[list], *, location_id: int) -> list[ProbeResult]:
    results = []
    for row in rows:
        fields = dict(zip(_RESULT_FIELDS, row, strict=True))
        for name in ("checked_at", "cert_expires_at"):
            if fields[name]:
                fields[name] = datetime.fromisoformat(fields[name])
        results.append(ProbeResult(**fields, location_id=location_id))
    return results


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
