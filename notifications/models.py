from django.conf import settings
from django.db import models
from django.utils import timezone

from monitor.models import Transition
from notifications import messages, transports
from sites.models import Site
from teams.models import Project


def default_events() -> list[str]:
    return list(Channel.DEFAULT_EVENTS)


class Channel(models.Model):
    """Where a project's alerts go: a Slack webhook, an email list, PagerDuty…

    Settings live in `config`, except those the kind marks secret, which live
    in `secrets` and are never shown again. A permanent error (Slack's 404, an
    address that bounces) disables the channel instead of failing every later
    alert again; the project's admins see why on the dashboard.
    """

    Kind = models.TextChoices(
        "Kind", [(kind.upper(), (kind, label)) for kind, label in transports.KINDS.items()]
    )

    class Event(models.TextChoices):
        DOWN = messages.DOWN, "Down"
        UP = messages.UP, "Up again"
        DEGRADED = messages.DEGRADED, "Degraded"
        CERT_EXPIRING = messages.CERT_EXPIRING, "Certificate expiring"
        MAINTENANCE_START = messages.MAINTENANCE_START, "Maintenance starts"
        MAINTENANCE_END = messages.MAINTENANCE_END, "Maintenance ends"
        REMINDER = messages.REMINDER, "Reminders"

    DEFAULT_EVENTS = (
        Event.DOWN,
        Event.UP,
        Event.DEGRADED,
        Event.CERT_EXPIRING,
        Event.REMINDER,
    )

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=100)
    config = models.JSONField(default=dict, blank=True)
    secrets = models.JSONField(default=dict, blank=True, editable=False)
    events = models.JSONField(default=default_events, blank=True)
    # The project's default channels alert for every monitor that has not
    # chosen its own (Site.channels, through `sites` here).
    is_default = models.BooleanField(default=True)
    sites = models.ManyToManyField(Site, related_name="channels", blank=True)
    # While a monitor stays down and unacknowledged, remind every so many minutes.
    remind_every_minutes = models.PositiveIntegerField(null=True, blank=True)
    # An escalation channel: told only when a down monitor is still
    # unacknowledged this many minutes after it went down (and of its recovery).
    escalate_after_minutes = models.PositiveIntegerField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # Made from SLACK_WEBHOOK_URL (notifications.legacy), once.
    from_env = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["project_id", "name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def settings(self) -> dict:
        """Every setting, secrets included: what the transport is given."""
        return {**self.config, **self.secrets}

    @property
    def is_escalation(self) -> bool:
        return self.escalate_after_minutes is not None

    def wants(self, event: str) -> bool:
        return event in (self.events or ())


class Notification(models.Model):
    """One message owed to one channel: the outbox entry delivery works from.

    A transition that policy lets through becomes one Notification per
    channel (notifications.routing); reminders and escalations add more for
    the same down transition. Each is claimed, retried and swept on its own,
    so a failing channel never holds up another. `key` makes each message
    exist once per channel however many workers try to create it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed permanently"
        SKIPPED = "skipped", "Skipped"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # The transition it announces (down, up, degraded) or, for a reminder or
    # an escalation, the down transition it is about.
    transition = models.ForeignKey(
        Transition, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    event = models.CharField(max_length=20)
    key = models.CharField(max_length=64)
    # What a message without a transition says (Uptime's own connectivity).
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # While set in the future, one worker owns the delivery (notifications.delivery).
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Two workers routing the same transition create each message once.
            models.UniqueConstraint(fields=["channel", "key"], name="notification_once_per_channel")
        ]
        indexes = [
            # The sweeper looks only at messages still owed.
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="pending"),
                name="notification_pending_idx",
            ),
            models.Index(fields=["transition", "event"], name="notification_transition_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.channel_id} ({self.status})"


class Acknowledgement(models.Model):
    """Someone is handling a down monitor: reminders and escalation stop.

    One per down transition (the incident's start); its recovery is still
    announced.
    """

    class Via(models.TextChoices):
        PAGE = "page", "Monitor page"
        API = "api", "API"
        LINK = "link", "Link in a message"

    transition = models.OneToOneField(
        Transition, on_delete=models.CASCADE, related_name="acknowledgement"
    )
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    by_name = models.CharField(max_length=150)
    at = models.DateTimeField(default=timezone.now)
    via = models.CharField(max_length=8, choices=Via.choices)

    def __str__(self) -> str:
        return f"{self.transition} acknowledged by {self.by_name}"


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

    transition = models.ForeignKey(
        Transition, on_delete=models.CASCADE, null=True, blank=True, related_name="attempts"
    )
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, null=True, blank=True, related_name="tries"
    )
    # The channel's kind and name when it was tried (the channel may be gone).
    channel = models.CharField(max_length=120, default="slack")
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
