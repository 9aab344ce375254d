from django.db import models
from django.utils import timezone

from monitor.models import Transition


class NotificationAttempt(models.Model):
    """One try at delivering a transition's notification through a channel.

    Every attempt is kept, so a user can see why an alert was late or never
    arrived (a deleted webhook, Slack rate limiting, a timeout).
    """

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        RETRYING = "retrying", "Failed, will retry"
        FAILED = "failed", "Failed permanently"
        SKIPPED = "skipped", "Skipped"

    transition = models.ForeignKey(Transition, on_delete=models.CASCADE, related_name="attempts")
    channel = models.CharField(max_length=32, default="slack")
    attempted_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-attempted_at", "-id"]
        indexes = [
            models.Index(fields=["transition", "attempted_at"], name="attempt_transition_idx")
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.outcome} for transition {self.transition_id}"


class WebhookPacing(models.Model):
    """When a webhook may next be posted to: one row per webhook, shared by every worker.

    Slack accepts about one message per second per incoming webhook and
    answers 429 with Retry-After beyond that. The row is keyed by a sha256 of
    the URL because the URL itself is a secret (its path is the credential).
    See notifications.pacing.
    """

    webhook_key = models.CharField(max_length=64, primary_key=True)
    # The next free slot: each sender takes the slot and moves this on by the interval.
    next_send_at = models.DateTimeField()
    # The end of the latest hold Slack asked for (429 with Retry-After); a
    # slot taken before the hold and falling inside it is taken again.
    held_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"webhook {self.webhook_key[:12]}… next at {self.next_send_at}"
