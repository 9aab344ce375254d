"""Beat's follow-up tick: reminders and escalation for unacknowledged down monitors.

Named as if it lived in notifications.tasks (the beat entry's name); Celery
imports this module through CELERY_IMPORTS in uptime/settings.py.
"""

from celery import shared_task

from notifications.followups import send_followups as send_due_followups


@shared_task(name="notifications.tasks.send_followups")
def send_followups() -> int:
    """Create and enqueue the reminders and escalations now due; return how many."""
    return len(send_due_followups())
