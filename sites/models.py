from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from sites.targets import MAX_URL_LENGTH, clean_target
from uptime.text import validate_display_name

MIN_INTERVAL = 10
MAX_INTERVAL = 86_400
MAX_TIMEOUT = 60
DUPLICATE_URL = "A site with this URL is already monitored in this project."


class Site(models.Model):
    """A monitored URL, with its schedule and its current state.

    The state columns (status, last_*, next_check_at) are written only by
    monitor.recording and monitor.dispatch; reading a site's status never
    scans the checks table.
    """

    class Status(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        UP = "up", "Up"
        DOWN = "down", "Down"

    project = models.ForeignKey("teams.Project", on_delete=models.CASCADE, related_name="sites")
    # Unique per project (Meta.constraints; clean() names the url field in the error).
    url = models.CharField(max_length=MAX_URL_LENGTH)
    name = models.CharField(max_length=200, blank=True)
    interval = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(MIN_INTERVAL), MaxValueValidator(MAX_INTERVAL)],
        help_text="Seconds between checks.",
    )
    timeout = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_TIMEOUT)],
        help_text="Seconds a check may take before the site counts as down.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.UNKNOWN)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error_kind = models.CharField(max_length=32, blank=True)
    last_error_message = models.CharField(max_length=300, blank=True)
    # Set when the dispatcher queues a check, cleared when its result is
    # recorded: while it is in the future the site is not queued again, so a
    # backlog cannot snowball; if a check is lost, it expires and the site is
    # claimed afresh.
    claim_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The claim itself: when the dispatcher claimed the site (one due time).
    # The queued task carries it, and only a result carrying the current claim
    # is recorded, once: a redelivered or late task changes nothing.
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "url"], name="site_url_once_per_project")
        ]
        indexes = [
            # The dispatcher asks "which enabled sites are due?" every few seconds.
            models.Index(
                fields=["next_check_at"],
                condition=models.Q(enabled=True),
                name="site_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.url

    @property
    def up(self) -> bool | None:
        return None if self.status == self.Status.UNKNOWN else self.status == self.Status.UP

    @property
    def reason(self) -> str:
        """Why the site is down ("" when it is not): the last check's message."""
        if self.status != self.Status.DOWN:
            return ""
        return self.last_error_message or (
            f"HTTP {self.last_status_code}" if self.last_status_code else "down"
        )

    def clean_fields(self, exclude=None) -> None:
        # clean() checks the URL whole (after normalisation); the field's own
        # length check would only repeat its message.
        super().clean_fields(exclude={*(exclude or ()), "url"})

    def validate_constraints(self, exclude=None) -> None:
        # clean() checks the per-project URL rule, with an error on the url field.
        super().validate_constraints(exclude={*(exclude or ()), "url"})

    def clean(self) -> None:
        errors = {}
        try:
            self.url = clean_target(self.url)
        except ValidationError as exc:
            errors["url"] = exc.messages
        else:
            if self.project_id and self.url_taken():
                errors["url"] = [DUPLICATE_URL]
        try:
            validate_display_name(self.name)
        except ValidationError as exc:
            errors["name"] = exc.messages
        if self.interval and self.timeout and self.timeout > self.interval:
            errors["timeout"] = [
                f"The timeout ({self.timeout}s) cannot be longer than "
                f"the interval ({self.interval}s)."
            ]
        if errors:
            raise ValidationError(errors)

    def url_taken(self) -> bool:
        """Whether another site of the same project monitors this URL."""
        others = Site.objects.filter(project_id=self.project_id, url=self.url)
        return others.exclude(pk=self.pk).exists()
