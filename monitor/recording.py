"""Recording: store a batch of probe results and the transitions they cause.

One short transaction per batch, never with network I/O inside it (the probes
have already finished). Each affected site row is locked first, so two
workers recording results for the same site queue behind each other and the
second sees the first's status: a status change yields exactly one Transition.
"""

import logging

from django.db import transaction

from monitor.models import Check, Transition
from monitor.probe import ProbeResult
from monitor.signals import site_status_changed
from sites.models import Site

log = logging.getLogger(__name__)

STATE_FIELDS = [
    "status",
    "last_checked_at",
    "status_changed_at",
    "last_status_code",
    "last_response_ms",
    "last_error_kind",
    "last_error_message",
]


def record_results(results: list[ProbeResult]) -> list[Transition]:
    """Store checks, update site state and create transitions for a batch."""
    results = sorted((r for r in results if r.site_id is not None), key=lambda r: r.checked_at)
    if not results:
        return []
    with transaction.atomic():
        # FOR UPDATE in id order: concurrent recorders of overlapping batches
        # lock in the same order and cannot deadlock. (SQLite has no row locks;
        # there the IMMEDIATE transaction serialises writers instead.)
        sites = {
            site.id: site
            for site in Site.objects.select_for_update()
            .filter(id__in={r.site_id for r in results})
            .order_by("id")
        }
        kept = [r for r in results if r.site_id in sites]  # a site deleted meanwhile
        checks = Check.objects.bulk_create(_check_from(r) for r in kept)
        transitions = []
        for result, check in zip(kept, checks, strict=True):
            transition = apply_result(sites[result.site_id], result, check)
            if transition is not None:
                transitions.append(transition)
        Site.objects.bulk_update(sites.values(), STATE_FIELDS)
        Transition.objects.bulk_create(transitions)
        transaction.on_commit(lambda: announce(transitions))
    return transitions


def apply_result(site: Site, result: ProbeResult, check: Check) -> Transition | None:
    """Move a (locked) site's state on by one result; return the transition, if any.

    As in the seed, a site with no history counts as up: its first failure is
    a transition to down, its first success is not a transition.
    """
    if site.last_checked_at is not None and result.checked_at < site.last_checked_at:
        return None  # a newer check has already set the state; this one is history
    new_status = Site.Status.UP if result.up else Site.Status.DOWN
    old_status = site.status
    site.last_checked_at = result.checked_at
    site.last_status_code = result.status_code
    site.last_response_ms = result.response_ms
    site.last_error_kind = result.error_kind
    site.last_error_message = result.error_message
    if new_status == old_status:
        return None
    site.status = new_status
    site.status_changed_at = result.checked_at
    assumed_before = Site.Status.UP if old_status == Site.Status.UNKNOWN else old_status
    if new_status == assumed_before:
        return None
    return Transition(
        site=site,
        check_result=check,
        from_status=old_status,
        to_status=new_status,
        created_at=result.checked_at,
    )


def announce(transitions: list[Transition]) -> None:
    """Send site_status_changed for each committed transition."""
    for transition in transitions:
        log.info(
            "%s is %s%s",
            transition.site.url,
            transition.to_status,
            f": {transition.check_result.reason}" if transition.is_down else "",
        )
        responses = site_status_changed.send_robust(
            sender=Transition, transition=transition, site=transition.site
        )
        for receiver, response in responses:
            if isinstance(response, Exception):
                # The transition row is committed; the sweeper delivers it later.
                log.error(
                    "site_status_changed receiver %s failed for transition %s: %s",
                    getattr(receiver, "__qualname__", receiver),
                    transition.id,
                    response,
                )


def _check_from(result: ProbeResult) -> Check:
    return Check(
        site_id=result.site_id,
        checked_at=result.checked_at,
        up=result.up,
        status_code=result.status_code,
        response_ms=result.response_ms,
        error_kind=result.error_kind,
        error_message=result.error_message,
    )
