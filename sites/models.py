import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from monitor import kinds
from sites.targets import MAX_URL_LENGTH
from uptime.text import validate_display_name

MIN_INTERVAL = 10
MAX_INTERVAL = 86_400
MAX_TIMEOUT = 60
MAX_THRESHOLD = 10
MAX_DEPENDENCY_DEPTH = 5
DUPLICATE_URL = "A site with this URL is already monitored in this project."


# Site.Status plus the states a monitor is shown in without being stored.
DISPLAY_STATES = [("paused", "Paused"), ("maintenance", "Maintenance")]


def default_failure_threshold() -> int:
    return settings.UPTIME_FAILURE_THRESHOLD


def new_ping_token() -> str:
    return secrets.token_urlsafe(24)


def new_badge_key() -> str:
    return secrets.token_urlsafe(18)


class Tag(models.Model):
    """A label a project puts on its monitors, to group, filter and find them."""

    project = models.ForeignKey("teams.Project", on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=50)
    # A CSS hex colour, "#rrggbb".
    color = models.CharField(max_length=7, default="#64748b")

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="tag_name_once_per_project")
        ]

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    """A monitored URL, with its schedule and its current state.

    The state columns (status, last_*, next_check_at) are written only by
    monitor.recording and monitor.dispatch; reading a site's status never
    scans the checks table.
    """

    class Status(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        UP = "up", "Up"
        # Answered, with a warning: too slow, or a certificate expiring soon.
        DEGRADED = "degraded", "Degraded"
        DOWN = "down", "Down"

    project = models.ForeignKey("teams.Project", on_delete=models.CASCADE, related_name="sites")
    kind = models.CharField(max_length=16, choices=kinds.CHOICES, default="http")
    # The monitor's target as people read it (monitor.kinds: the URL of an
    # http monitor, "tcp://host:port", ...; empty for a heartbeat). Unique per
    # project (Meta.constraints; clean() names the url field in the error).
    url = models.CharField(max_length=MAX_URL_LENGTH, blank=True)
    # The kind's options, cleaned by its module, in the API's names; secrets
    # (passwords, tokens) apart in `secrets`, which nothing ever shows.
    options = models.JSONField(default=dict, blank=True)
    secrets = models.JSONField(default=dict, blank=True, editable=False)
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
    enabled = models.BooleanField(default=True, help_text="Off: paused.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Confirmation (monitor.recording): down after this many failures in a
    # row, up again after this many successes; while unconfirmed, the next
    # check comes after retry_interval instead of the interval.
    failure_threshold = models.PositiveSmallIntegerField(
        default=default_failure_threshold,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_THRESHOLD)],
    )
    success_threshold = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_THRESHOLD)]
    )
    retry_interval = models.PositiveIntegerField(
        default=20,
        validators=[MinValueValidator(MIN_INTERVAL), MaxValueValidator(MAX_INTERVAL)],
        help_text="Seconds to the next check while a failure (or recovery) is unconfirmed "
        "(never more than the interval).",
    )
    # While the parent is down, this monitor's down alerts are muted (monitor.policy).
    # Indexed only where set (Meta.indexes): most monitors depend on none.
    depends_on = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dependents",
        db_index=False,
    )
    # A heartbeat's secret ping URL is /ping/<ping_token>.
    # Unique through Meta.constraints, not unique=True: on PostgreSQL that
    # would add a second, LIKE-pattern index, never read (both keys are only
    # looked up whole). Every index of this table is written on each claim
    # of a row (the dispatcher moves next_check_at, which is indexed), so
    # the ping token's index holds heartbeats only, which are all it finds.
    ping_token = models.CharField(max_length=64, default=new_ping_token, editable=False)
    # Badges (/badge/<badge_key>/status.svg) are public: an unguessable key, not the id.
    badge_key = models.CharField(max_length=32, default=new_badge_key, editable=False)
    tags = models.ManyToManyField(Tag, blank=True, related_name="sites")
    # Where it is checked from: none chosen means every enabled location.
    locations = models.ManyToManyField("monitor.Location", blank=True, related_name="sites")
    # How many of the voting locations must see it down for it to be down;
    # empty means a majority of them (monitor.quorum).
    quorum = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(64)]
    )
    # A failure seen from a minority of locations is a regional problem: the
    # site is shown degraded and nobody is alerted, unless this is on.
    notify_regional = models.BooleanField(default=False)

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.UNKNOWN)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error_kind = models.CharField(max_length=32, blank=True)
    last_error_message = models.CharField(max_length=300, blank=True)
    failures_in_a_row = models.PositiveIntegerField(default=0, editable=False)
    successes_in_a_row = models.PositiveIntegerField(default=0, editable=False)
    # The TLS certificate's expiry, as the last https or tls check saw it.
    cert_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when a paused monitor is resumed: the time before it is a pause, not a gap.
    resumed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when the monitor is paused, cleared on resume (which records the
    # pause as a MonitoringGap): uptime figures leave paused time out.
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
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
            models.UniqueConstraint(
                fields=["project", "url"],
                condition=~models.Q(kind="heartbeat"),
                name="site_url_once_per_project",
            ),
            models.UniqueConstraint(
                fields=["ping_token"],
                condition=models.Q(kind="heartbeat"),
                name="site_ping_token_unique",
            ),
            models.UniqueConstraint(fields=["badge_key"], name="site_badge_key_unique"),
        ]
        indexes = [
            # The dispatcher asks "which enabled sites are due?" every few seconds.
            models.Index(
                fields=["next_check_at"],
                condition=models.Q(enabled=True),
                name="site_due_idx",
            ),
            # Deleting a site sets its dependents' depends_on to NULL.
            models.Index(
                fields=["depends_on"],
                condition=models.Q(depends_on__isnull=False),
                name="site_depends_on_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.url

    @property
    def up(self) -> bool | None:
        """Answering (up or degraded); None while unchecked."""
        if self.status == self.Status.UNKNOWN:
            return None
        return self.status in (self.Status.UP, self.Status.DEGRADED)

    @property
    def paused(self) -> bool:
        return not self.enabled

    def display_status(self, *, in_maintenance: bool = False) -> str:
        """What people are shown: paused or maintenance before the status itself."""
        if not self.enabled:
            return "paused"
        return "maintenance" if in_maintenance else self.status

    @property
    def reason(self) -> str:
        """Why the site is down or degraded ("" otherwise): the last check's message."""
        if self.status not in (self.Status.DOWN, self.Status.DEGRADED):
            return ""
        return self.last_error_message or (
            f"HTTP {self.last_status_code}" if self.last_status_code else self.status
        )

    @property
    def ping_url(self) -> str:
        """A heartbeat's secret URL (add /start or /fail for those signals)."""
        return f"{settings.UPTIME_BASE_URL.rstrip('/')}/ping/{self.ping_token}"

    def probe_options(self) -> dict:
        """The options a probe needs: the cleaned options with the secrets."""
        return {**self.options, **self.secrets}

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
            self._clean_options()
        except ValidationError as exc:
            errors.update(exc.message_dict)
        else:
            if self.project_id and self.kind != "heartbeat" and self.url_taken():
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
        errors.update(self._dependency_errors())
        if errors:
            raise ValidationError(errors)

    def _clean_options(self) -> None:
        """The kind's module cleans the options (the secrets with them) and names the target."""
        module = kinds.get(self.kind)
        given = dict(self.options)
        if self.kind == "http":
            given.setdefault("url", self.url)  # the seed's field, and monitors made before kinds
        cleaned = module.clean({**given, **self.secrets})
        self.options, self.secrets = kinds.split_secrets(self.kind, cleaned)
        self.url = module.target(cleaned)

    def _dependency_errors(self) -> dict:
        parent = self.depends_on
        if parent is None:
            return {}
        if parent.project_id != self.project_id:
            return {"depends_on": ["A monitor can only depend on a monitor of its own project."]}
        seen = {self.pk}
        for _ in range(MAX_DEPENDENCY_DEPTH):
            if parent is None:
                return {}
            if parent.pk in seen:
                return {"depends_on": ["This would make monitors depend on each other in a loop."]}
            seen.add(parent.pk)
            parent = parent.depends_on
        if parent is not None:
            return {"depends_on": [f"Dependencies are at most {MAX_DEPENDENCY_DEPTH} deep."]}
        return {}

    def url_taken(self) -> bool:
        """Whether another site of the same project monitors this URL."""
        others = Site.objects.filter(project_id=self.project_id, url=self.url)
        return others.exclude(pk=self.pk).exclude(kind="heartbeat").exists()
