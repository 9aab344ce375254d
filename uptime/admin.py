"""django-celery-beat's schedule, shown read-only in the admin.

CELERY_BEAT_SCHEDULE (uptime/settings.py) is the one place the schedule is
defined; beat copies it into these tables when it starts. An edit here (a
disabled dispatch task, a longer interval) would silently stop checks until
the next beat restart put it back, so the admin may look but not touch.
"""

from django.contrib import admin
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)


class ReadOnlyAdmin:
    """View permission only, and no actions (enable, disable, run, delete)."""

    actions = None

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


for model, beat_model_admin in (
    (PeriodicTask, beat_admin.PeriodicTaskAdmin),
    (IntervalSchedule, beat_admin.IntervalScheduleAdmin),
    (CrontabSchedule, beat_admin.CrontabScheduleAdmin),
    (SolarSchedule, beat_admin.SolarScheduleAdmin),
    (ClockedSchedule, beat_admin.ClockedScheduleAdmin),
):
    admin.site.unregister(model)
    admin.site.register(
        model, type(f"ReadOnly{beat_model_admin.__name__}", (ReadOnlyAdmin, beat_model_admin), {})
    )


def _superusers_only(request) -> bool:
    """The admin is the operators' (superusers'): staff status alone does not open it."""
    return request.user.is_active and request.user.is_superuser


admin.site.has_permission = _superusers_only
