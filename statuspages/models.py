"""Public status pages: a project's face to its customers, with incidents and announcements.

A page shows chosen monitors of its project, in groups, under display names
of the page's own; nothing else of the project. What a page shows beyond
state and uptime (URLs, error texts, response times) is off until its owner
turns it on.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from sites.models import Site

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
slug_validator = RegexValidator(
    SLUG_PATTERN, "Lowercase letters, digits and hyphens, not at either end; at most 64."
)


class StatusPage(models.Model):
    project = models.ForeignKey(
        "teams.Project", on_delete=models.CASCADE, related_name="status_pages"
    )
    # /status/<slug>; unique across the installation.
    slug = models.CharField(max_length=64, unique=True, validators=[slug_validator])
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    # A PNG, JPEG, GIF or WebP image (never SVG: it could carry script), kept in
    # the database so every web process serves it without shared storage.
    logo = models.BinaryField(null=True, blank=True, editable=False)
    logo_type = models.CharField(max_length=32, blank=True, editable=False)
    # Served at / of this host name (Host header); unique when set.
    custom_domain = models.CharField(max_length=253, null=True, blank=True, unique=True)
    # What the public may see beyond state and uptime; all off by default.
    show_urls = models.BooleanField(default=False)
    show_errors = models.BooleanField(default=False)
    show_response_times = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


class StatusPageGroup(models.Model):
    """A heading on a page and the monitors under it, in order."""

    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name or f"group {self.pk}"


class StatusPageMonitor(models.Model):
    """A monitor shown on a page, under the display name chosen for it there."""

    group = models.ForeignKey(StatusPageGroup, on_delete=models.CASCADE, related_name="monitors")
    # The page, repeated from the group, so "once per page" is a constraint.
    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="monitors")
    # Cascaded by the database on PostgreSQL (migration 0002), like Check.site.
    site = models.ForeignKey(Site, on_delete=models.DO_NOTHING, related_name="status_entries")
    # Empty: the monitor's own name (never its URL unless the page shows URLs).
    display_name = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["page", "site"], name="status_monitor_once_per_page")
        ]

    def __str__(self) -> str:
        return self.display_name or str(self.site)


class StatusIncident(models.Model):
    """An incident or an announcement a member wrote on a page, with its updates."""

    class Kind(models.TextChoices):
        INCIDENT = "incident", "Incident"
        ANNOUNCEMENT = "announcement", "Announcement"

    class Impact(models.TextChoices):
        NONE = "none", "None"
        MINOR = "minor", "Minor"
        MAJOR = "major", "Major"

    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="incidents")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INCIDENT)
    title = models.CharField(max_length=200)
    impact = models.CharField(max_length=5, choices=Impact.choices, default=Impact.MINOR)
    # The monitors it concerns (of the page's); none: the whole page.
    sites = models.ManyToManyField(Site, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Set by the update that resolves it (an announcement: when it is taken down).
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["page", "-created_at"], name="status_incident_recent_idx")]

    def __str__(self) -> str:
        return self.title


class StatusIncidentUpdate(models.Model):
    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"

    incident = models.ForeignKey(StatusIncident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=13, choices=Status.choices)
    message = models.TextField(max_length=5000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.incident}: {self.status}"
