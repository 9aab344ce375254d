"""Connects the monitor's site_status_changed signal to notification delivery."""

from django.dispatch import receiver

from monitor.signals import site_status_changed
from notifications.tasks import send_notification


@receiver(site_status_changed, dispatch_uid="notifications.enqueue_transition")
def enqueue_transition_notification(sender, transition, **kwargs) -> None:
    # The signal is sent after commit already; delay_on_commit keeps that true
    # if a caller ever sends it from inside a transaction. Pass the id only.
    send_notification.delay_on_commit(transition.id)
