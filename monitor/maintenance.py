"""Maintenance windows: when they happen, which sites they cover, and the one write path.

The rules:
- A window's first occurrence is starts_at to ends_at. An RRULE (RFC 5545,
  e.g. "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2") repeats it; starts_at always counts
  as an occurrence, as RFC 5545 says of DTSTART, and every occurrence lasts
  ends_at - starts_at of elapsed time.
- Recurrences follow the wall clock of the window's time zone (IANA name):
  a window at 02:00 on Sundays in Europe/Berlin starts at 02:00 local time
  in winter and in summer. A local start that does not exist that day (the
  spring-forward gap) moves forward by the gap; one that happens twice is
  the first of the two.
- Sane rules only: FREQ is DAILY, WEEKLY, MONTHLY or YEARLY (BYHOUR for
  several a day); occurrences start at least an hour apart and never overlap
  (at least the duration apart); COUNT or UNTIL, not both; a COUNT must be
  reached within ten years.
- A window with no sites covers its whole project, sites added later
  included; otherwise the chosen sites, which must be of its project.
- A site is in maintenance at a moment when a window covering it has an
  occurrence with start <= moment < end. Then no alert is sent
  (monitor.policy) and the time is left out of uptime figures.

Occurrences are found from a start moved forward by whole periods of the
rule to just before the range asked about, so the cost does not grow with
the window's age (dateutil alone walks every period since the first).
"""

import functools
import itertools
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rrulestr
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest

from monitor.models import MaintenanceWindow
from sites.models import Site
from teams.access import Action, require
from teams.audit import AuditAction, audit_record
from teams.models import Project
from teams.selectors import project_ids
from uptime.text import validate_display_name
from uptime.timezones import zone_of

FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
MIN_GAP = timedelta(hours=1)
MAX_DURATION = timedelta(days=366)
# Far enough from datetime's limits for the arithmetic on occurrences.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
HORIZON = relativedelta(years=10)
# The gap rule is checked on the occurrences of the first two years.
GAP_CHECK_SPAN = relativedelta(years=2)
RRULE_TEXT = re.compile(r"[A-Z0-9=;,+\-]+")
EDITABLE_FIELDS = ("title", "description", "starts_at", "ends_at", "rrule", "timezone")
Period = tuple[datetime, datetime]


# --- Validation ----------------------------------------------------------------


@functools.cache
def normalize_rrule(text: str) -> str:
    """The rule as stored: upper case, without an "RRULE:" prefix or spaces."""
    text = "".join(text.split()).upper()
    return text.removeprefix("RRULE:")


def parse_rrule(text: str, first_local: datetime) -> rrule:
    """The dateutil rule for an RRULE starting at `first_local` (aware, in the window's zone).

    ValidationError with one message for anything but one sane RRULE.
    """
    if not RRULE_TEXT.fullmatch(text):
        raise ValidationError(
            "Give one RRULE such as FREQ=WEEKLY;BYDAY=SU;BYHOUR=2 "
            "(letters, digits and = ; , + - only; no DTSTART)."
        )
    parts = _rule_parts(text)
    if parts.get("FREQ") not in FREQUENCIES:
        raise ValidationError(f"FREQ must be one of {', '.join(FREQUENCIES)}.")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValidationError("Give COUNT or UNTIL, not both.")
    for name in ("COUNT", "INTERVAL"):
        if name in parts and not (parts[name].isdigit() and 1 <= int(parts[name]) <= 10_000):
            raise ValidationError(f"{name} must be a whole number from 1 to 10000.")
    try:
        return rrulestr(text, dtstart=first_local)
    except (ValueError, OverflowError, TypeError, KeyError, IndexError) as exc:
        raise ValidationError(f"Not a valid RRULE: {_dateutil_message(exc)}") from None


def _rule_parts(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for part in filter(None, text.split(";")):
        name, _, value = part.partition("=")
        if name in parts:
            raise ValidationError(f"{name} is given twice.")
        parts[name] = value
    return parts


def _dateutil_message(exc: Exception) -> str:
    message = str(exc)
    if "UNTIL values must be specified in UTC" in message:
        return "UNTIL must be in UTC, ending in Z (e.g. UNTIL=20270101T000000Z)."
    return message or type(exc).__name__


def window_errors(window: MaintenanceWindow) -> dict[str, list[str]]:
    """The window's rule breaks, by model field name (its sites are checked by sites_errors)."""
    errors: dict[str, list[str]] = {}
    try:
        validate_display_name(window.title)
    except ValidationError as exc:
        errors["title"] = exc.messages
    for field in ("starts_at", "ends_at"):
        moment = getattr(window, field)
        if moment and not EARLIEST <= moment < LATEST:
            errors[field] = [f"Give a time from {EARLIEST:%Y} to {LATEST:%Y}."]
    if window.starts_at and window.ends_at and not errors:
        if window.ends_at <= window.starts_at:
            errors["ends_at"] = ["The end must be after the start."]
        elif window.ends_at - window.starts_at > MAX_DURATION:
            errors["ends_at"] = [f"A window lasts at most {MAX_DURATION.days} days."]
    try:
        zone = zone_of(window.timezone)
    except ValidationError as exc:
        errors["timezone"] = exc.messages
        zone = None
    window.rrule = normalize_rrule(window.rrule or "")
    if window.rrule and zone is not None and window.starts_at and not errors:
        try:
            _check_recurrence(Schedule.of(window, use_ends_by=False))
        except ValidationError as exc:
            errors["rrule"] = exc.messages
    return errors


def _check_recurrence(schedule: "Schedule") -> None:
    """Refuse overlapping or too frequent occurrences, and a COUNT beyond the horizon."""
    limit = max(schedule.duration, MIN_GAP)
    horizon = schedule.first + HORIZON
    previous = schedule.first
    for start in schedule.starts_after(schedule.first, until=schedule.first + GAP_CHECK_SPAN):
        if start - previous < limit:
            raise ValidationError(
                f"Occurrences at {previous:%Y-%m-%d %H:%M} and {start:%Y-%m-%d %H:%M} UTC are "
                f"closer than {_duration_text(limit)}: occurrences may not overlap and must "
                "start at least an hour apart."
            )
        previous = start
    endless = schedule.last_end() is None
    if endless and next(schedule.starts_after(schedule.first, until=horizon), None) is None:
        raise ValidationError("The rule has no occurrence in the ten years after the first.")


def _duration_text(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} minutes"
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} hours"


def sites_errors(project: Project, sites: Iterable[Site]) -> dict[str, list[str]]:
    foreign = [site for site in sites if site.project_id != project.pk]
    if not foreign:
        return {}
    ids = ", ".join(str(site.pk) for site in foreign)
    return {"sites": [f"These sites are not in the window's project: {ids}."]}


# --- Occurrences ---------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A window's occurrences: its first one, its length, and its rule in its zone."""

    first: datetime  # aware, UTC
    duration: timedelta
    zone: zoneinfo.ZoneInfo
    rule: rrule | None
    freq: str = ""
    interval: int = 1
    count: int | None = None
    last_start: datetime | None = None  # a COUNT rule's last occurrence, once known

    @classmethod
    def of(cls, window: MaintenanceWindow, *, use_ends_by: bool = True) -> "Schedule":
        """The window's schedule; it must have passed validation (ValidationError if not).

        use_ends_by=False: the window's rule changed since it was saved.
        """
        zone = zone_of(window.timezone)
        first = window.starts_at.astimezone(UTC)
        duration = window.ends_at - window.starts_at
        if not window.rrule:
            return cls(first=first, duration=duration, zone=zone, rule=None)
        parts = _rule_parts(window.rrule)
        schedule = cls(
            first=first,
            duration=duration,
            zone=zone,
            rule=parse_rrule(window.rrule, first.astimezone(zone)),
            freq=parts["FREQ"],
            interval=int(parts.get("INTERVAL", 1)),
            count=int(parts["COUNT"]) if "COUNT" in parts else None,
        )
        if schedule.count is None:
            return schedule
        # Stored on save: the rule's end, so it can be moved forward like any other.
        stored = window.ends_by if use_ends_by else None
        last = stored - duration if stored else schedule.count_last_start()
        if last is None:
            raise ValidationError("COUNT is not reached within ten years: use UNTIL, or fewer.")
        rule = schedule.rule.replace(count=None, until=last.astimezone(zone))
        return cls(**{**schedule.__dict__, "rule": rule, "count": None, "last_start": last})

    def count_last_start(self) -> datetime | None:
        """A COUNT rule's last start, or None when COUNT is not reached within the horizon."""
        if self.last_start is not None or self.count is None:
            return self.last_start
        horizon = (self.first + HORIZON).astimezone(self.zone)
        starts = list(itertools.islice(self.rule.replace(count=None, until=horizon), self.count))
        if len(starts) < self.count:
            return None
        return max(self.first, starts[-1].astimezone(UTC))

    def starts_after(
        self, moment: datetime, *, until: datetime | None = None
    ) -> Iterator[datetime]:
        """Occurrence starts after `moment` (and up to `until`), in order, in UTC."""
        if self.first > moment and (until is None or self.first <= until):
            yield self.first
        if self.rule is not None:
            for start in self._rule_starts(moment, until=until):
                if start != self.first:
                    yield start

    def _rule_starts(self, moment: datetime, *, until: datetime | None) -> Iterator[datetime]:
        rule = self._moved_forward(moment)
        if until is not None:
            # Bounded, so a rule with no occurrence for years is not walked to its end.
            own = rule._until  # dateutil has no public accessor
            bound = until.astimezone(self.zone)
            rule = rule.replace(until=bound if own is None else min(own, bound))
        # A day early: dateutil compares wall-clock times in the zone, which
        # an hour of DST can put on the wrong side; compared in UTC below.
        for local in rule.xafter((moment - timedelta(days=1)).astimezone(self.zone)):
            start = local.astimezone(UTC)
            if start > moment:
                yield start

    def _moved_forward(self, moment: datetime) -> rrule:
        """The rule restarted a whole number of periods after the first, before `moment`.

        Its defaults (the hour, the weekday, the day of the month) come from
        the start, so the new start keeps them; a day of the month that the
        target month lacks steps one period back.
        """
        first = self.first.astimezone(self.zone)
        target = (moment - self.duration).astimezone(self.zone)
        if self.freq in ("DAILY", "WEEKLY"):
            days = 1 if self.freq == "DAILY" else 7
            periods = (target.date() - first.date()).days // (days * self.interval) - 1
            if periods <= 0:
                return self.rule
            return self.rule.replace(dtstart=first + timedelta(days=days * self.interval * periods))
        months = 1 if self.freq == "MONTHLY" else 12
        elapsed = (target.year - first.year) * 12 + target.month - first.month
        periods = elapsed // (months * self.interval) - 1
        while periods > 0:
            start = first + relativedelta(months=months * self.interval * periods)
            if start.day == first.day:
                return self.rule.replace(dtstart=start)
            periods -= 1
        return self.rule

    def between(self, start: datetime, end: datetime) -> list[Period]:
        """The occurrences overlapping [start, end), whole, in order."""
        found = []
        for begin in self.starts_after(start - self.duration, until=end):
            if begin >= end:
                break
            found.append((begin, begin + self.duration))
        return found

    def current_or_next(self, at: datetime) -> Period | None:
        """The occurrence in progress at `at`, else the next one; None when none is left."""
        for begin in self.starts_after(at - self.duration):
            if begin + self.duration > at:
                return begin, begin + self.duration
        return None

    def last_end(self) -> datetime | None:
        """No occurrence ends after this; None for a rule without end."""
        if self.rule is None:
            return self.first + self.duration
        if self.count is not None or self.last_start is not None:
            last = self.count_last_start()
            return None if last is None else last + self.duration
        until = self.rule._until  # dateutil has no public accessor
        if until is None:
            return None
        return max(self.first, until.astimezone(UTC)) + self.duration


def occurrences(window: MaintenanceWindow, start: datetime, end: datetime) -> list[Period]:
    """The window's occurrences overlapping [start, end), as (start, end) in UTC, in order."""
    return Schedule.of(window).between(start, end)


def current_or_next(window: MaintenanceWindow, at: datetime) -> Period | None:
    return Schedule.of(window).current_or_next(at)


def last_end(window: MaintenanceWindow) -> datetime | None:
    """What MaintenanceWindow.ends_by stores: no occurrence ends after it (None: never ends)."""
    return Schedule.of(window, use_ends_by=False).last_end()


def is_active(window: MaintenanceWindow, at: datetime) -> bool:
    period = current_or_next(window, at)
    return period is not None and period[0] <= at


# --- Which sites are in maintenance ------------------------------------------


def _candidates(at: datetime) -> QuerySet[MaintenanceWindow]:
    """Windows that may have an occurrence at `at` (started, not over)."""
    return MaintenanceWindow.objects.filter(starts_at__lte=at).filter(
        Q(ends_by__isnull=True) | Q(ends_by__gt=at)
    )


def active_windows(project_ids: Iterable[int], at: datetime) -> list[MaintenanceWindow]:
    """The windows of these projects with an occurrence at `at` (one query)."""
    windows = _candidates(at).filter(project_id__in=list(project_ids))
    return [window for window in windows if is_active(window, at)]


def in_maintenance(site_ids: Iterable[int], at: datetime) -> set[int]:
    """Which of these sites a window covers at `at`.

    One query for the windows of their projects that may be active, Python
    for their occurrences, and a second query only when one is active.
    """
    site_ids = list(site_ids)
    if not site_ids:
        return set()
    chosen = MaintenanceWindow.sites.through.objects.filter(maintenancewindow=OuterRef("pk"))
    windows = _candidates(at).filter(
        project_id__in=Site.objects.filter(pk__in=site_ids).values("project_id")
    )
    active = [w for w in windows.annotate(has_sites=Exists(chosen)) if is_active(w, at)]
    if not active:
        return set()
    whole = {w.project_id for w in active if not w.has_sites}
    some = [w.pk for w in active if w.has_sites]
    covered = Q(project_id__in=whole) | Q(maintenance_windows__in=some)
    return set(Site.objects.filter(covered, pk__in=site_ids).values_list("pk", flat=True))


def maintenance_periods(site_id: int, start: datetime, end: datetime) -> list[Period]:
    """The site's maintenance within [start, end): merged, clipped to the range, in order."""
    windows = MaintenanceWindow.objects.filter(
        Q(sites__isnull=True) | Q(sites=site_id),
        project__sites=site_id,
        starts_at__lt=end,
    ).filter(Q(ends_by__isnull=True) | Q(ends_by__gt=start))
    periods = sorted(
        (max(begin, start), min(finish, end))
        for window in windows.distinct()
        for begin, finish in occurrences(window, start, end)
    )
    merged: list[Period] = []
    for begin, finish in periods:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


# --- Reads as a user sees them, and writes -------------------------------------


def window_list(*, project: Project) -> QuerySet[MaintenanceWindow]:
    """A project's windows with their sites and author (the project read through a selector)."""
    return (
        MaintenanceWindow.objects.filter(project=project)
        .select_related("created_by")
        .prefetch_related("sites")
    )


def window_get(
    *, user: AbstractBaseUser, window_id: int | str, action: Action = Action.READ
) -> MaintenanceWindow:
    """One window of the user's projects; DoesNotExist for any other id, however spelt.

    Beyond reading, the user's role must allow the action (PermissionDenied).
    """
    text = str(window_id)
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or not user.is_authenticated:
        raise MaintenanceWindow.DoesNotExist(f"No maintenance window has the id {text!r}.")
    window = (
        MaintenanceWindow.objects.filter(project_id__in=project_ids(user=user))
        .select_related("created_by", "project")
        .prefetch_related("sites")
        .get(pk=int(text))
    )
    if action != Action.READ:
        require(user=user, project=window.project_id, action=action)
    return window


def _clean(window: MaintenanceWindow, sites: list[Site] | None) -> None:
    errors: dict[str, list[str]] = {}
    try:
        window.full_clean(exclude=["project", "created_by"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if sites is not None:
        errors.update(sites_errors(window.project, sites))
    if errors:
        raise ValidationError(errors)


def maintenance_create(
    *,
    project: Project,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    description: str = "",
    rrule: str = "",
    timezone: str = "UTC",
    sites: list[Site] | None = None,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> MaintenanceWindow:
    """Add a window; no sites means the whole project. ValidationError by model field."""
    window = MaintenanceWindow(
        project=project,
        title=title,
        description=description,
        starts_at=starts_at,
        ends_at=ends_at,
        rrule=rrule,
        timezone=timezone,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    _clean(window, sites or [])
    with transaction.atomic():
        window.save()
        window.sites.set(sites or [])
        _audit(AuditAction.MAINTENANCE_CREATED, window, actor, request, _summary(window))
    return window


def maintenance_update(
    *,
    window: MaintenanceWindow,
    sites: list[Site] | None = None,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
    **changes,
) -> MaintenanceWindow:
    """Change a window's fields and, when given, its sites (an empty list: the whole project)."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    before = _summary(window)
    for field, value in changes.items():
        setattr(window, field, value)
    _clean(window, sites)
    with transaction.atomic():
        window.save()
        if sites is not None:
            window.sites.set(sites)
        after = _summary(window)
        changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
        if changed:
            _audit(AuditAction.MAINTENANCE_CHANGED, window, actor, request, changed)
    return window


def maintenance_delete(
    *,
    window: MaintenanceWindow,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> None:
    with transaction.atomic():
        _audit(AuditAction.MAINTENANCE_DELETED, window, actor, request, {"title": window.title})
        window.delete()


def _summary(window: MaintenanceWindow) -> dict:
    """The window as the audit log shows it: JSON values."""
    return {
        "title": window.title,
        "startsAt": window.starts_at.isoformat(),
        "endsAt": window.ends_at.isoformat(),
        "rrule": window.rrule,
        "timezone": window.timezone,
        "sites": sorted(window.sites.values_list("pk", flat=True)) if window.pk else [],
    }


def _audit(action: AuditAction, window: MaintenanceWindow, actor, request, detail: dict) -> None:
    audit_record(
        action=action,
        actor=actor,
        actor_name="" if actor is not None else "operator",
        project=window.project,
        target=window,
        detail=detail,
        request=request,
    )
