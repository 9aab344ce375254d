"""Beat's scheduler: django-celery-beat's, asking the database less often and
never spinning.

django-celery-beat asks the database on every tick whether the schedule
changed (a health-check query and a read of its change table). With the
dispatcher due every second that was two thirds of beat's CPU, and most of
an idle installation's. Here the question is asked at most every
UPTIME_BEAT_RELOAD_EVERY seconds: an edit in the admin takes effect within
that time instead of within a second.

Celery's scheduler wakes 10 ms before an entry is due (adjust's drift), finds
it not due yet, and then asks again without sleeping until it is: a busy loop
of about 10 ms before every run, which with a run every second was 1 % of a
core, idle or not. Here it sleeps until the entry is due.

The dispatcher's tick (claim the due sites, queue their checks) runs in beat
itself: sent to a worker every second, the task's own cost (a message, its
acknowledgement, a thread) was more than the claim, idle or not.
"""

import time

from django.conf import settings
from django.db import close_old_connections
from django_celery_beat.schedulers import DatabaseScheduler

DISPATCH_TASK = "monitor.tasks.dispatch_due_checks"


class Scheduler(DatabaseScheduler):
    _asked_at: float | None = None

    def schedule_changed(self) -> bool:
        now = time.monotonic()
        if self._asked_at is not None and now - self._asked_at < settings.UPTIME_BEAT_RELOAD_EVERY:
            return False
        self._asked_at = now
        return super().schedule_changed()

    def adjust(self, n, drift=0.0):
        # No early wake-up: woken early, the entry is not due and beat spins.
        return super().adjust(n, drift=drift)

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        if entry.task != DISPATCH_TASK:
            return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        # The dispatcher's tick runs here rather than as a message: a worker
        # task every second that only claims costs more than the claim (a
        # task's fixed cost, idle or not). Only the checks go to workers.
        from monitor.tasks import dispatch  # needs Django's apps, loaded after this module

        if advance:
            self.reserve(entry)
        close_old_connections()  # as Django does per request: drop a broken or aged connection
        dispatch(producer=producer)
        return None
