import heapq
import itertools

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from monitor.probe import ErrorKind
from sites.models import Site


class Location(models.Model):
    """A place checks are made from: a probe process started with
    UPTIME_LOCATION=<name> consumes this location's queue (monitor.locations).

    The first location, "default", is the central workers themselves (they
    have the database). Any other location is a probe without database
    credentials: it probes what its queue asks and sends the results back,
    signed with its token, for the central side to record.
    """

    id = models.SmallAutoField(primary_key=True)
    name = models.SlugField(max_length=32, unique=True)
    label = models.CharField(
        max_length=100, blank=True, help_text="Shown on pages, e.g. Frankfurt."
    )
    # Off: no checks are sent there and its votes do not count.
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Bumped to revoke a location's token (monitor.locations.location_token).
    token_version = models.PositiveSmallIntegerField(default=1, editable=False)
    # Its probe process's last heartbeat; stale after UPTIME_LOCATION_STALE_AFTER.
    last_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    hostname = models.CharField(max_length=255, blank=True, editable=False)
    # Set while this location's own network looks down (most of what it
    # checked failed at the network level): its votes do not count.
    network_down_since = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.label or self.name

    @property
    def display_name(self) -> str:
        return self.label or self.name


DEFAULT_LOCATION_ID = 1


class SiteLocation(models.Model):
    """A site as one location sees it, when more than one location checks it.

    Confirmation runs per location (failure_threshold failures in a row from
    here); the site's own status is then decided from these by quorum
    (monitor.quorum).
    """

    # Cascaded by the database, like Check.site.
    site = models.ForeignKey(Site, on_delete=models.DO_NOTHING, related_name="location_states")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=8, choices=Site.Status.choices, default=Site.Status.UNKNOWN
    )
    # The dispatcher's claim this location last reported for: a result with
    # the same or an older claim is a duplicate (a redelivered message).
    last_claim = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error_kind = models.CharField(max_length=32, blank=True)
    last_error_message = models.CharField(max_length=300, blank=True)
    failures_in_a_row = models.PositiveIntegerField(default=0)
    successes_in_a_row = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["site_id", "location_id"]
        constraints = [
            models.UniqueConstraint(fields=["site", "location"], name="site_location_once")
        ]

    def __str__(self) -> str:
        return f"{self.site_id} from {self.location_id}: {self.status}"


class SiteIdField(models.ForeignKey):
    """A foreign key to Site stored as a 4-byte integer (Site.id is 8 bytes).

    Sites number in the thousands, far below 2**31; the 4 bytes saved put
    Check's columns in 24 bytes and its primary key in 16 (see Check).
    PostgreSQL compares int4 with int8 in the same index operator family, so
    the constraint and its ON DELETE CASCADE still use the key's index.
    """

    def db_type(self, connection) -> str:
        return models.IntegerField().db_type(connection)


# A check's columns in the order the recorder writes them (COPY) and the
# packer reads them back (DELETE … RETURNING).
CHECK_COLUMNS = [
    "site_id",
    "checked_at",
    "up",
    "status_code",
    "response_ms",
    "error_kind",
    "error_message",
    "location_id",
]


class Check(models.Model):
    """One probe of one site from one location: what happened and how long it took.

    The largest table by far, so each byte counts (README, "History"): no
    id, as the key identifies a check, and the columns widest first so
    PostgreSQL pads none. A row is a 24-byte header (its null bitmap fits
    while there are at most eight columns) and 23 bytes of data (an empty
    string takes 1), 52 bytes with its line pointer; a key entry is 28.
    """

    # A site's checks by time (Check.latest_of, charts, the site pages);
    # int4 + int2 + timestamptz pack into a 16-byte key. A site's checks
    # from one location arrive in time order, so once a leaf page holds one
    # site's tail, nbtree splits it after the newest entry and leaves it full.
    pk = models.CompositePrimaryKey("site_id", "location_id", "checked_at")
    checked_at = models.DateTimeField(default=timezone.now)
    # DO_NOTHING here, ON DELETE CASCADE in the database (see sites.services.site_delete):
    # Django's own cascade would load every check of a site to delete it.
    site = SiteIdField(Site, on_delete=models.DO_NOTHING, related_name="checks", db_index=False)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # Where the check was made from. No constraint: a location is never
    # deleted while checks name it (it is disabled instead).
    location = models.ForeignKey(
        Location,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
        default=DEFAULT_LOCATION_ID,
        db_default=DEFAULT_LOCATION_ID,
    )
    up = models.BooleanField()
    error_kind = models.CharField(max_length=32, choices=ErrorKind.choices, blank=True)
    error_message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-checked_at"]
        # No other index: the primary key serves a site's recent checks, and
        # pruning by age uses an index on checked_at that migrations 0004
        # and 0016 make per database: BRIN on PostgreSQL (checks arrive in
        # time order, so a few kilobytes cover millions of rows), b-tree on SQLite.

    def __str__(self) -> str:
        return (
            f"{self.site_id} {'up' if self.up else 'down'} at {self.checked_at:%Y-%m-%d %H:%M:%S}"
        )

    @property
    def reason(self) -> str:
        if self.up:
            return ""
        return self.error_message or self.get_error_kind_display()

    @classmethod
    def latest_of(cls, site_id: int, limit: int) -> list["Check"]:
        """A site's latest checks from every location, newest first.

        One query per location, each reading the key's index backwards from
        its newest check: with location before checked_at in the key, one
        query ordered by time would read and sort every check of the site.
        Packed checks are read only when the rows are too few.
        """
        from monitor.packing import latest_packed  # it reads these models

        per_location = []
        for location_id in Location.objects.values_list("id", flat=True):
            rows = cls.objects.filter(site_id=site_id, location_id=location_id)
            checks = list(rows.order_by("-checked_at")[:limit])
            if len(checks) < limit:  # older ones are packed (monitor.packing)
                checks += latest_packed(site_id, location_id, limit)
                checks = sorted(checks, key=lambda c: c.checked_at, reverse=True)[:limit]
            per_location.append(checks)
        newest_first = heapq.merge(*per_location, key=lambda c: c.checked_at, reverse=True)
        return list(itertools.islice(newest_first, limit))


class CheckBlock(models.Model):
    """An hour of one site's checks from one location, packed into one row.

    A check kept as a row costs about 90 bytes with its key; packed here it
    costs 11 and its share of the hour's row (monitor.packing, README "History").
    Checks stay rows while they are recent (UPTIME_CHECK_PACK_AFTER_HOURS),
    then the hourly upkeep moves each closed hour into a block.
    """

    # Also a site's blocks by time; pruning by age uses an index on `hour`
    # per database (migration 0017), as Check's on checked_at.
    pk = models.CompositePrimaryKey("site_id", "location_id", "hour")
    # Widest first, as Check: PostgreSQL pads none of them.
    hour = models.DateTimeField()
    # DO_NOTHING here, ON DELETE CASCADE in the database, as Check.site:
    # migration 0017 makes that constraint itself, hence none from Django.
    site = SiteIdField(
        Site, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    location = models.ForeignKey(
        Location, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    count = models.PositiveSmallIntegerField()
    data = models.BinaryField()

    def __str__(self) -> str:
        return (
            f"{self.site_id} from {self.location_id}: {self.count} checks, {self.hour:%Y-%m-%d %H}h"
        )


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
        # Uptime's own network was down (monitor.connectivity): the alert was
        # held back in favour of one connectivity message. At most 8 characters.
        WITHHELD = "withheld", "Withheld (Uptime could not reach most sites)"
        # monitor.policy muted it: a maintenance window, or the parent monitor is down.
        MUTED = "muted", "Muted (maintenance or parent down)"

    # Cascaded by the database, like Check.site.
    site = models.ForeignKey(Site, on_delete=models.DO_NOTHING, related_name="transitions")
    # The check that caused it, as facts rather than a foreign key: Django
    # 5.2 cannot point one at Check's composite key, transitions are few,
    # and the facts outlive the check's pruning. Empty for a change no check
    # caused. Read them as `check_result`.
    checked_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    error_kind = models.CharField(max_length=32, choices=ErrorKind.choices, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    from_status = models.CharField(max_length=8, choices=Site.Status.choices)
    to_status = models.CharField(max_length=8, choices=Site.Status.choices)
    created_at = models.DateTimeField(default=timezone.now)
    # Checked from several locations: the names of those that saw it fail
    # (comma-separated), and whether only a minority did (a regional problem:
    # the site is degraded, and the alert is muted unless the owner asked).
    locations = models.CharField(max_length=200, blank=True)
    regional = models.BooleanField(default=False)

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

    @property
    def check_result(self) -> Check | None:
        """The check that caused this change, rebuilt (unsaved) from the facts kept here."""
        if self.checked_at is None:
            return None
        return Check(
            site_id=self.site_id,
            checked_at=self.checked_at,
            # A change to down was a failure; to up or degraded, a success.
            up=not self.is_down,
            status_code=self.status_code,
            response_ms=self.response_ms,
            error_kind=self.error_kind,
            error_message=self.error_message,
        )

    @check_result.setter
    def check_result(self, check: Check | None) -> None:
        """Keep the facts of `check` (Transition(check_result=check) works as before)."""
        self.checked_at = check.checked_at if check else None
        self.status_code = check.status_code if check else None
        self.response_ms = check.response_ms if check else None
        self.error_kind = check.error_kind if check else ""
        self.error_message = check.error_message if check else ""


class MonitoringGap(models.Model):
    """A stretch of time a site was not checked although it should have been.

    Uptime itself was not checking (beat or every worker stopped, the machine
    was off): what the site did then is unknown, and uptime figures leave the
    stretch out rather than count it as up. Found by the recorder when a
    check arrives long after the one before (monitor.recording.gap_before).
    """

    class Reason(models.TextChoices):
        UNCHECKED = "unchecked", "Not checked"
        PAUSED = "paused", "Paused"

    # Cascaded by the database, like Check.site.
    site = models.ForeignKey(Site, on_delete=models.DO_NOTHING, related_name="gaps")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    reason = models.CharField(max_length=9, choices=Reason.choices, default=Reason.UNCHECKED)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["site", "-started_at"], name="gap_site_recent_idx")]

    def __str__(self) -> str:
        return (
            f"{self.site_id} not checked {self.started_at:%Y-%m-%d %H:%M} to {self.ended_at:%H:%M}"
        )


# Upper edges (exclusive), in ms, of the response-time histogram's buckets:
# 16 ms times √2 per step, rounded. Bucket 0 holds 0 to 15 ms, bucket i holds
# [EDGES[i-1], EDGES[i]), the last one everything from 46,341 ms up (a check
# times out within 60 s). See monitor.history for the percentile estimate.
RESPONSE_BUCKET_EDGES_MS = tuple(round(16 * 2 ** (k / 2)) for k in range(24))
RESPONSE_BUCKETS = len(RESPONSE_BUCKET_EDGES_MS) + 1
HISTOGRAM_COLUMNS = tuple(f"h{i:02d}" for i in range(RESPONSE_BUCKETS))


class CheckRollup(models.Model):
    """A site's checks over one UTC hour or day.

    Kept long after the checks are pruned. Hours are summed as checks are
    recorded (monitor.history.add_to_rollups, in the recorder's transaction),
    days from their hours once closed (roll_up_days). The columns
    h00…h24 count checks per response-time bucket (RESPONSE_BUCKET_EDGES_MS),
    from which percentiles are estimated.
    """

    class Period(models.IntegerChoices):
        # The value is the period's length in hours.
        HOUR = 1, "Hour"
        DAY = 24, "Day"

    # No index of its own: the unique constraint below starts with site.
    # Cascaded by the database, like Check.site.
    site = models.ForeignKey(
        Site, on_delete=models.DO_NOTHING, related_name="rollups", db_index=False
    )
    bucket_start = models.DateTimeField()
    rt_sum = models.BigIntegerField(default=0)
    checks = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    rt_count = models.PositiveIntegerField(default=0)
    rt_min = models.PositiveIntegerField(null=True, blank=True)
    rt_max = models.PositiveIntegerField(null=True, blank=True)
    period = models.PositiveSmallIntegerField(choices=Period.choices)

    class Meta:
        ordering = ["-bucket_start", "site_id", "period"]
        constraints = [
            # The upsert's conflict target; also serves "a site's hourly (or
            # daily) rollups over a time range" as an index range scan.
            models.UniqueConstraint(
                fields=["site", "period", "bucket_start"], name="rollup_site_period_start_uniq"
            ),
        ]
        indexes = [
            # Pruning by age across all sites. Cheap: every site shares each
            # bucket_start, so PostgreSQL stores it deduplicated.
            models.Index(fields=["bucket_start"], name="rollup_start_idx"),
        ]

    def __str__(self) -> str:
        period = self.get_period_display().lower()
        return f"{self.site_id} {period} of {self.bucket_start:%Y-%m-%d %H:%M}"

    @property
    def histogram(self) -> list[int]:
        return [getattr(self, name) for name in HISTOGRAM_COLUMNS]

    @property
    def rt_avg(self) -> float | None:
        return self.rt_sum / self.rt_count if self.rt_count else None

    @property
    def uptime_ratio(self) -> float | None:
        return (self.checks - self.failures) / self.checks if self.checks else None

    def percentile_ms(self, fraction: float) -> float | None:
        """Estimated response time below which `fraction` of the checks fall."""
        from monitor.history import estimate_percentile  # history imports this module

        return estimate_percentile(self.histogram, fraction, low=self.rt_min, high=self.rt_max)

    @property
    def p95_ms(self) -> float | None:
        return self.percentile_ms(0.95)


# Histogram columns: smallint (a day of 10-second checks is 8,640); additions
# saturate at 32,767 rather than fail the recorder's transaction.
for _name in HISTOGRAM_COLUMNS:
    CheckRollup.add_to_class(_name, models.PositiveSmallIntegerField(default=0))
del _name


class ConnectivityIncident(models.Model):
    """Uptime could not reach most of its sites at once: its own network, most likely.

    Opened when a held down alert's window shows the pattern (the rule is in
    monitor.connectivity); while it is open, down alerts caused by
    network-level failures are withheld. It ends once the sites are reachable
    again and every withheld site has been checked since; then the alerts of
    sites still down are released. Each of its two messages is an outbox entry
    like a transition's (opened_notice, ended_notice, claimed through
    notice_lease_until by notifications.delivery).
    """

    Notice = Transition.NotificationStatus

    # The start of the window that showed it (the first withheld check's time).
    started_at = models.DateTimeField()
    sites_unreachable = models.PositiveIntegerField()
    sites_checked = models.PositiveIntegerField()
    is_open = models.BooleanField(default=True)
    # When a window first showed most sites reachable again.
    recovered_at = models.DateTimeField(null=True, blank=True)
    # When every withheld site had been checked after recovered_at.
    ended_at = models.DateTimeField(null=True, blank=True)
    sites_still_down = models.PositiveIntegerField(null=True, blank=True)
    opened_notice = models.CharField(max_length=8, choices=Notice.choices, default=Notice.PENDING)
    ended_notice = models.CharField(max_length=8, choices=Notice.choices, blank=True)
    notice_lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One open incident at a time: two workers that both see the
            # pattern cannot open two (the loser joins the winner's).
            models.UniqueConstraint(
                fields=["is_open"],
                condition=models.Q(is_open=True),
                name="connectivity_one_open_incident",
            ),
        ]

    def __str__(self) -> str:
        state = "open" if self.is_open else f"ended {self.ended_at:%Y-%m-%d %H:%M:%S}"
        return f"connectivity incident since {self.started_at:%Y-%m-%d %H:%M:%S} ({state})"


class ProbeSlot(models.Model):
    """A probe running inside a web request ("ping", "check now"), counted to cap them.

    Each such probe holds a web server thread until the target answers or
    times out; monitor.probe_limits admits one only while the user's and
    everyone's rows are under their caps. A row left by a killed process is
    ignored past `expires_at`.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    # When the probe will have given up at the latest (its timeout).
    ends_by = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"probe by user {self.user_id} since {self.started_at:%H:%M:%S}"


# The field named `timezone` below hides django.utils.timezone in the class body.
_now = timezone.now


class MaintenanceWindow(models.Model):
    """Planned work on some sites, or a whole project: no alerts then, no downtime counted.

    starts_at to ends_at is the first occurrence; an RFC 5545 RRULE repeats it in
    the window's time zone. The rules (validation, occurrences, which sites are
    covered) are in monitor.maintenance.
    """

    project = models.ForeignKey(
        "teams.Project", on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    rrule = models.CharField(
        max_length=500, blank=True, help_text="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=SU"
    )
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA time zone name.")
    # None of them: the whole project, sites added later included.
    sites = models.ManyToManyField(Site, blank=True, related_name="maintenance_windows")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=_now, editable=False)
    # No occurrence ends after this (None: it recurs forever). Derived on save,
    # so finding the windows that may be active is one indexed query.
    ends_by = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["project", "ends_by"], name="maintenance_project_idx")]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        from monitor.maintenance import last_end

        self.ends_by = last_end(self)
        if "update_fields" in kwargs and kwargs["update_fields"] is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "ends_by"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from monitor.maintenance import window_errors  # maintenance imports this module

        errors = window_errors(self)
        if errors:
            raise ValidationError(errors)


class Heartbeat(models.Model):
    """A heartbeat monitor's own state (monitor.heartbeat): its last ping and
    the next deadline it is judged at.

    deadline_at is derived from the site's options, its resume and the
    pings; `schedule` and `resumed_at` say what it was derived from, so the
    evaluator notices an edit or a resume, whatever path made it.
    """

    # No database constraint: sites.services.site_delete deletes a site's
    # rows itself on SQLite, and this table is not among them (an orphan row
    # is never read: every query starts from the site). On PostgreSQL
    # migration 0009 adds the key with ON DELETE CASCADE.
    site = models.OneToOneField(
        Site,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="heartbeat",
    )
    # The last success or /fail ping.
    last_ping_at = models.DateTimeField(null=True, blank=True)
    # A /start not yet followed by a success or a failure.
    started_at = models.DateTimeField(null=True, blank=True)
    # The schedule counts from here: the last ping, the monitor's creation or
    # resume, or the last scheduled time already judged missed.
    expected_from = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    schedule = models.JSONField(default=dict, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"heartbeat of site {self.site_id}, due by {self.deadline_at}"


class IncidentNote(models.Model):
    """A member's note on a downtime (the down transition that started it)."""

    # Cascaded by the database, like Check.site (migration 0013).
    site = models.ForeignKey(Site, on_delete=models.DO_NOTHING, related_name="incident_notes")
    transition = models.ForeignKey(
        Transition, on_delete=models.CASCADE, related_name="notes", db_constraint=False
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=150)
    text = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["transition", "created_at"], name="note_transition_idx")]

    def __str__(self) -> str:
        return f"note by {self.author_name} on {self.transition_id}"
