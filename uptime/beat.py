"""Beat's scheduler: django-celery-beat's, asking the database less often.

django-celery-beat asks the database on every tick whether the schedule
changed (a health-check query and a read of its change table). With the
dispatcher due every second that was two thirds of beat's CPU, and most of
an idle installation's. Here the question is asked at most every
UPTIME_BEAT_RELOAD_EVERY seconds: an edit in the admin takes effect within
that time instead of within a second.
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
