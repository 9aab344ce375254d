"""Checking sites: probe them, then record the results (never the other way round)."""

import functools
import threading
from datetime import datetime

import orjson
from django.conf import settings
from django.db import connection

from monitor import dnsprobe
from monitor.pgindex import execute_by_index
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
    if connection.vendor == "postgresql":
        rows = _by_index(rows)
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
    return probe_all(targets, on_results=functools.partial(record_results, claim=claim))


def _by_index(rows) -> list[tuple]:
    """The targets query, run by primary key (monitor.pgindex)."""
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        execute_by_index(cursor, sql, params)
        found = cursor.fetchall()
    # JSON columns arrive as text (Django's loader); JSONField decodes them so.
    return [
        (site_id, url, timeout, kind, orjson.loads(options), orjson.loads(secrets))
        for site_id, url, timeout, kind, options, secrets in found
    ]


def probe_all(targets: list[Target], *, on_results) -> list[ProbeResult]:
    """Probe a batch of any kinds: DNS queries in a thread beside libcurl's loop.

    Each engine waits on its own sockets, so neither holds the other back: a
    DNS resolver that times out does not delay an HTTP check. The thread
    records through its own database connection and closes it.
    """
    concurrency = settings.UPTIME_PROBE_CONCURRENCY
    queries = [t for t in targets if t.kind == "dns"]
    transfers = [t for t in targets if t.kind != "dns"]
    if not queries:
        return probe_many(transfers, concurrency=concurrency, on_results=on_results)
    if not transfers:
        return dnsprobe.probe_many(queries, concurrency=concurrency, on_results=on_results)
    outcome: dict = {}

    def run_queries() -> None:
        try:
            outcome["results"] = dnsprobe.probe_many(
                queries, concurrency=concurrency, on_results=on_results
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run_queries, name="dns-probes")
    thread.start()
    try:
        results = probe_many(transfers, concurrency=concurrency, on_results=on_results)
    finally:
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return results + outcome["results"]


def check_site_now(site: Site) -> ProbeResult:
    """Check one site immediately (even a disabled one) and record the result."""
    [result] = check_sites([site.id], include_disabled=True) or [None]
    if result is None:
        raise Site.DoesNotExist(f"Site {site.id} no longer exists.")
    return result
