"""The Celery application: configured from Django settings (CELERY_* names)."""

import gc
import logging
import os
import threading

from celery import Celery
from celery.signals import (
    beat_embedded_init,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "uptime.settings")

app = Celery("uptime", task_cls="uptime.reliability:ReliableTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes every database connection before and after each
# task unless this is set; on PostgreSQL that is a new server process per
# task. Keep connections, and let Django's own rules (CONN_MAX_AGE, health
# checks, closing a connection that errored) decide, as it does per request.
app.conf.CELERY_DB_REUSE_MAX = 1_000_000_000
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_database_connections(sender=None, **kwargs) -> None:
    # An eager task runs inside its caller's transaction: leave that alone.
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@worker_init.connect
@beat_embedded_init.connect
def _freeze_start_up_objects(**kwargs) -> None:
    """Put what start-up loaded out of the cyclic garbage collector's reach.

    `celery worker --beat` (make run) forks beat from the worker, and the two
    share the worker's start-up memory until either writes to it. A full
    collection writes to every object it walks, so each process's first one
    copied nearly all of that memory: under load, 65 MB of beat's memory had
    become its own (private, dirty).
    Frozen in the worker before the fork and again in beat after it, those
    objects are never walked. https://docs.python.org/3/library/gc.html#gc.freeze
    """
    gc.freeze()


@worker_process_init.connect
def _leave_the_worker_process_group(**kwargs) -> None:
    # honcho (`make run`) and `kill -- -PGID` stop a process by signalling its
    # whole group, which would kill pool processes mid-task. In a group of
    # their own, only the main process gets the SIGTERM: it does a warm
    # shutdown and stops its pool itself. (billiard's time limits already
    # signal a pool process that leads its own group as a group.)
    os.setpgrp()


_stop_heartbeats = threading.Event()


@worker_ready.connect
def _report_this_location(**kwargs) -> None:
    """A remote location's worker says it is there now and then
    (monitor.locations): the central side lists it, sends it checks and
    counts its votes only while these arrive."""
    from django.conf import settings

    if settings.UPTIME_LOCATION == "default":
        return
    threading.Thread(target=_send_heartbeats, name="location-heartbeat", daemon=True).start()


@worker_shutdown.connect
def _stop_reporting(**kwargs) -> None:
    _stop_heartbeats.set()


def _send_heartbeats() -> None:
    from django.conf import settings

    from monitor import locations
    from monitor.tasks import location_heartbeat
    from uptime.broker import TO_CENTRAL

    every = settings.UPTIME_LOCATION_HEARTBEAT_EVERY
    while not _stop_heartbeats.is_set():
        try:
            location_heartbeat.apply_async(locations.heartbeat_payload(), queue=TO_CENTRAL)
        except Exception:  # noqa: BLE001 - the broker is away: try again next time
            logging.getLogger(__name__).warning("could not send this location's heartbeat")
        _stop_heartbeats.wait(every)
