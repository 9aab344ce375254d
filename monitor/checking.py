"""Checking sites: probe them, then record the results (never the other way round)."""

import functools
from datetime import datetime

from django.conf import settings

from monitor.probe import ProbeResult, Target, probe_many
from monitor.recording import record_results
from sites.models import Site


def check_sites(
    site_ids: list[int], *, include_disabled: bool = False, claim: datetime | None = None
) -> list[ProbeResult]:
    """Probe the given sites concurrently and record their results.

    With a dispatcher's `claim`, only the sites still holding it are probed
    and recorded (see monitor.dispatch); without one (a check on demand), all.
    """
    sites = Site.objects.filter(id__in=site_ids)
    if not include_disabled:
        sites = sites.filter(enabled=True)
    if claim is not None:
        sites = sites.filter(claimed_at=claim)
    rows = sites.exclude(kind="heartbeat").values_list(
        "id", "url", "timeout", "kind", "options", "secrets"
    )
    targets = [
        Target(
            url=url,
            timeout=timeout,
            site_id=site_id,
            kind=kind,
            options={**options, **secrets} if secrets else options,
        )
        for site_id, url, timeout, kind, options, secrets in rows
    ]
    # Record as results arrive, in short transactions, so a slow site in the
    # batch does not hold back the state of the fast ones.
    return probe_many(
        targets,
        concurrency=settings.UPTIME_PROBE_CONCURRENCY,
        on_results=functools.partial(record_results, claim=claim),
    )


def check_site_now(site: Site) -> ProbeResult:
    """Check one site immediately (even a disabled one) and record the result."""
    [result] = check_sites([site.id], include_disabled=True) or [None]
    if result is None:
        raise Site.DoesNotExist(f"Site {site.id} no longer exists.")
    return result
