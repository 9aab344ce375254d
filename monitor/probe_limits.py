"""Caps on probes run inside web requests: "ping" and "check now".

Such a probe holds a web server thread for as long as the target takes (up
to its timeout), so a few slow targets could hold every thread and stop the
web app answering anyone. Three caps keep threads free, each answered at
once with 429 and Retry-After, never by waiting for a slot:

- UPTIME_PROBES_PER_USER probes at once per user,
- UPTIME_PROBES_GLOBAL at once across every web process (rows in the
  database, which every process shares whatever the cache is),
- UPTIME_PROBES_PER_PROCESS in this process, below its thread count, so the
  global slots cannot all land on one gunicorn worker.

The request rate is capped apart, by uptime.throttling.ProbeThrottle.
"""

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from monitor.models import ProbeSlot

# A slot outlives its probe's timeout by this much before it is ignored:
# recording a result takes a moment; a process killed mid-probe leaves its row.
SLOT_GRACE = timedelta(seconds=30)
# Any constant; PostgreSQL serialises claims on this advisory lock.
_PG_LOCK_KEY = 0x75707470

_process_lock = threading.Lock()
_process_running = 0


class ProbeCapReached(Exception):
    """Too many probes are running; try again in `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@contextmanager
def probe_slot(*, user_id: int, timeout: float) -> Iterator[None]:
    """Hold one probe slot for the block, or raise ProbeCapReached at once."""
    _enter_process(timeout)
    try:
        slot = _claim(user_id=user_id, timeout=timeout)
        try:
            yield
        finally:
            ProbeSlot.objects.filter(pk=slot.pk).delete()
    finally:
        _leave_process()


def _enter_process(timeout: float) -> None:
    global _process_running
    with _process_lock:
        if _process_running >= settings.UPTIME_PROBES_PER_PROCESS:
            raise ProbeCapReached(
                "This web server is running as many probes as it may; try again shortly.",
                retry_after=max(1, math.ceil(timeout)),
            )
        _process_running += 1


def _leave_process() -> None:
    global _process_running
    with _process_lock:
        _process_running -= 1


def _claim(*, user_id: int, timeout: float) -> ProbeSlot:
    # Count and insert under one lock, so two requests cannot both take the
    # last slot: SQLite's IMMEDIATE transactions already run one at a time;
    # on PostgreSQL an advisory lock held until commit does the same.
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])
        now = timezone.now()
        live = ProbeSlot.objects.filter(expires_at__gt=now)
        everyone = list(live.values_list("user_id", "ends_by"))
        mine = [ends for owner, ends in everyone if owner == user_id]
        if len(mine) >= settings.UPTIME_PROBES_PER_USER:
            raise ProbeCapReached(
                f"You have {len(mine)} probes running, the most allowed at once "
                f"(UPTIME_PROBES_PER_USER={settings.UPTIME_PROBES_PER_USER}); "
                "try again when one has finished.",
                retry_after=_seconds_until_first(mine, now),
            )
        if len(everyone) >= settings.UPTIME_PROBES_GLOBAL:
            raise ProbeCapReached(
                f"{len(everyone)} probes are running, the most allowed at once "
                f"(UPTIME_PROBES_GLOBAL={settings.UPTIME_PROBES_GLOBAL}); "
                "try again when one has finished.",
                retry_after=_seconds_until_first([ends for _, ends in everyone], now),
            )
        ProbeSlot.objects.filter(expires_at__lte=now).delete()
        ends_by = now + timedelta(seconds=timeout)
        return ProbeSlot.objects.create(
            user_id=user_id, started_at=now, ends_by=ends_by, expires_at=ends_by + SLOT_GRACE
        )


def _seconds_until_first(ends: list, now) -> int:
    """Whole seconds until the first of these probes has finished (at least 1)."""
    return max(1, math.ceil((min(ends) - now).total_seconds()))
