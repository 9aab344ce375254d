"""Beat's follow-up tick: reminders and escalation for unacknowledged down monitors,
and notices of maintenance starting or ending.

Named as if it lived in notifications.tasks (the beat entry's name); Celery
imports this module through CELERY_IMPORTS in uptime/settings.py.
"""

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from notifications import routing
from notifications.followups import send_followups as send_due_followups
from notifications.maintenance_notices import route_maintenance_notices


@shared_task(name="notifications.tasks.send_followups")
def send_followups() -> int:
    """Create and enqueue the follow-ups and maintenance notices now due; return how many."""
    ids = send_due_followups()
    with transaction.atomic():
        notices = route_maintenance_notices(now=timezone.now())
        routing.enqueue_after_commit(notices)
    return len(ids) + len(notices)
