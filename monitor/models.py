from django.db import models
from django.utils import timezone

from monitor.probe import ErrorKind
from sites.models import Site


class Check(models.Model):
    """One probe of one site: what happened and how long it took."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="checks")
    checked_at = models.DateTimeField(default=timezone.now)
    up = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    error_kind = models.CharField(max_length=32, choices=ErrorKind.choices, blank=True)
    error_message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-checked_at", "-id"]
        indexes = [
            # A site's recent checks (detail pages, the admin, pruning by age).
            models.Index(fields=["site", "-checked_at"], name="check_site_recent_idx"),
            # The admin's newest-first list across all sites, and pruning by age.
            models.Index(fields=["checked_at"], name="check_time_idx"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.site_id} {'up' if self.up else 'down'} at {self.checked_at:%Y-%m-%d %H:%M:%S}"
        )

    @property
    def reason(self) -> str:
        if self.up:
            return ""
        return self.error_message or self.get_error_kind_display()


class Transition(models.Model):
    """A site's status changed (up to down, or down to up).

    Written in the same transaction as the check that caused it, so it is the
    durable record that a notification is owed; the notification_* columns are
    that outbox's state, finished by the notification task or the sweeper.
    """

    class NotificationStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed permanently"
        SKIPPED = "skipped", "Skipped (no channel configured)"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="transitions")
    check_result = models.ForeignKey(
        Check, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=8, choices=Site.Status.choices)
    to_status = models.CharField(max_length=8, choices=Site.Status.choices)
    created_at = models.DateTimeField(default=timezone.now)

    notification_status = models.CharField(
        max_length=8, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    notify_attempts = models.PositiveIntegerField(default=0)
    # While set in the future, one worker owns the delivery; see notifications.delivery.
    notify_lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["site", "-created_at"], name="transition_site_recent_idx"),
            # The sweeper looks only at transitions still owed a notification.
            models.Index(
                fields=["created_at"],
                condition=models.Q(notification_status="pending"),
                name="transition_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.from_status} → {self.to_status}"

    @property
    def is_down(self) -> bool:
        return self.to_status == Site.Status.DOWN
