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
"""

import time

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler


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
