"""Writes to sites: the one path used by the API, the dashboard and the commands.

Each function validates through Site.full_clean() (URL normalisation, the
private-address guard, interval and timeout limits, uniqueness) and raises
django.core.exceptions.ValidationError with per-field messages.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils import timezone

from monitor import kinds
from monitor.models import (
    Check,
    CheckBlock,
    CheckRollup,
    Heartbeat,
    IncidentNote,
    Location,
    MaintenanceWindow,
    MonitoringGap,
    SiteLocation,
    Transition,
)
from notifications.models import Channel, NotificationAttempt
from sites.models import DUPLICATE_URL, Site, Tag
from sites.targets import normalize_url
from statuspages import cache as status_cache
from statuspages.models import StatusIncident, StatusPageMonitor
from teams.audit import AuditAction, audit_record
from teams.models import Project

EDITABLE_FIELDS = (
    "name",
    "interval",
    "timeout",
    "enabled",
    "failure_threshold",
    "success_threshold",
    "retry_interval",
    "depends_on",
    "options",
    "quorum",
    "notify_regional",
)
# What the API and pages show for a secret that is set; sent back unchanged
# (a client echoing what it read), it keeps the stored secret.
SECRET_MASK = "********"  # noqa: S105 - a mask, not a password
MAX_TAGS = 20
MAX_TAG_LENGTH = Tag._meta.get_field("name").max_length
# New tags take a colour from this list by their name, so chips differ at a
# glance; each is legible beside text in the light and the dark theme.
TAG_COLORS = (
    "#2563eb",
    "#16a34a",
    "#d97706",
    "#db2777",
    "#7c3aed",
    "#0891b2",
    "#dc2626",
    "#64748b",
)


def site_create(
    *,
    project: Project,
    url: str = "",
    kind: str = "http",
    options: dict | None = None,
    name: str = "",
    interval: int = 60,
    timeout: int = 10,
    enabled: bool = True,
    failure_threshold: int | None = None,
    success_threshold: int = 1,
    retry_interval: int = 20,
    depends_on: Site | None = None,
    channels: list[int] | None = None,
    tags: list[str] | None = None,
    locations: list[str] | None = None,
    quorum: int | None = None,
    notify_regional: bool = False,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Site:
    """Add a monitor; `actor` and `request` say who, for the audit log (None: an operator).

    `options` are the kind's options in the API's names, secrets among them
    (monitor.kinds); an http monitor's URL may come as `url`, as in the seed.
    `channels` are ids of the project's channels; none: the project's defaults.
    `tags` are names, created in the project when new (tags_clean's rules).
    `locations` are names of enabled locations; none: every enabled location.
    """
    site = Site(
        project=project,
        kind=kind,
        url=url,
        name=name,
        interval=interval,
        timeout=timeout,
        enabled=enabled,
        success_threshold=success_threshold,
        retry_interval=retry_interval,
        depends_on=depends_on,
        quorum=quorum,
        notify_regional=notify_regional,
    )
    if failure_threshold is not None:
        site.failure_threshold = failure_threshold
    elif kind == "heartbeat":
        site.failure_threshold = 1  # its grace period is the tolerance already
    site.options, site.secrets = _split(kind, dict(options or {}))
    # Check a new monitor straight away; a heartbeat is never checked, it is pinged.
    site.next_check_at = None if kind == "heartbeat" else timezone.now()
    site.full_clean()
    chosen = _channels(project, channels)
    names = tags_clean(tags)
    places = locations_clean(locations)
    with transaction.atomic():
        _save(site)
        if chosen:
            site.channels.set(chosen)
        if places:
            site.locations.set(places)
        if names:
            site.tags.set(_tags_ensure(project, names))
        _audit(AuditAction.SITE_CREATED, site, actor, request, {"url": site.url})
    return site


def site_update(
    *,
    site: Site,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
    **changes,
) -> Site:
    channels = changes.pop("channels", None)
    names = tags_clean(changes.pop("tags", None))
    places = locations_clean(changes.pop("locations", None))
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    chosen = _channels(site.project, channels)
    was_enabled = site.enabled
    before = {field: getattr(site, field) for field in changes}
    saved = [*changes, "next_check_at"]
    if "options" in changes:
        # Options not named keep their value; so do secrets sent back masked.
        new_options, new_secrets = _split(site.kind, changes.pop("options"))
        site.options = {**site.options, **new_options}
        site.secrets = {**site.secrets, **new_secrets}
        saved += ["secrets", "url"]
    for field, value in changes.items():
        setattr(site, field, value)
    if site.enabled and not was_enabled and site.kind != "heartbeat":
        site.next_check_at = timezone.now()  # re-enabled: check now, not after a stale due time
    pause = _pause_change(site, was_enabled=was_enabled)
    if pause is not None:
        saved += ["resumed_at", "paused_at"]
    site.full_clean()
    try:
        with transaction.atomic():
            # Save only what a user may edit, so a concurrent check's state is kept.
            site.save(update_fields=saved)
            if pause is not None and pause.started_at is not None:
                pause.save()
            # Its name or pause shows on status pages: not a transition, so say so here.
            transaction.on_commit(lambda: status_cache.invalidate_for_sites([site.pk]))
            if chosen is not None:
                before["channels"] = sorted(site.channels.values_list("pk", flat=True))
                site.channels.set(chosen)
            if names is not None:
                before["tags"] = _value(site, "tags")
                site.tags.set(_tags_ensure(site.project, names))
            if places is not None:
                before["locations"] = _value(site, "locations")
                site.locations.set(places)
            _audit_update(site, before, actor, request)
    except DatabaseError:
        # update_fields on a row deleted meanwhile updates nothing and raises.
        if not Site.objects.filter(pk=site.pk).exists():
            raise Site.DoesNotExist(f"Site {site.pk} was deleted.") from None
        raise
    return site


def _pause_change(site: Site, *, was_enabled: bool) -> MonitoringGap | None:
    """Note a pause or a resume on the site; a resume's pause, as a gap to save
    (its started_at is None when there is nothing to save).

    None when `enabled` did not change. Uptime figures leave paused time out
    (monitor.availability): the open pause through paused_at, a finished one
    through its gap. The time before a resume is a pause, not a missed check.
    """
    if site.enabled == was_enabled:
        return None
    now = timezone.now()
    if not site.enabled:
        site.paused_at = now
        return MonitoringGap(site=site, started_at=None)  # nothing to save yet
    site.resumed_at = now
    started, site.paused_at = site.paused_at, None
    return MonitoringGap(
        site=site, started_at=started, ended_at=now, reason=MonitoringGap.Reason.PAUSED
    )


def site_delete(
    *,
    site: Site,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> None:
    """Delete a site with its checks, transitions (and their attempts) and rollups.

    In SQL, not through Django's cascade, which loads every check first. On
    PostgreSQL the foreign keys cascade (monitor migration 0006), so the site
    row is the first row locked, as in the recorder: a delete and a recording
    of the same site queue behind each other instead of deadlocking, and a
    recorder that comes second finds the site gone and drops its results.
    SQLite's keys have no ON DELETE; there the rows go here, children first,
    inside the IMMEDIATE transaction that already keeps the recorder out.

    Raises Site.DoesNotExist if another request deleted the site first.
    """
    q = connection.ops.quote_name
    shown_on = list(StatusPageMonitor.objects.filter(site=site).values_list("page_id", flat=True))
    with transaction.atomic(), connection.cursor() as cursor:
        transaction.on_commit(lambda: status_cache.invalidate_pages(shown_on))
        if connection.vendor != "postgresql":
            for sql in _history_deletes():
                cursor.execute(sql, [site.pk])
        table, pk = q(Site._meta.db_table), q(Site._meta.pk.column)
        # Its dependents depend on nothing now (what SET_NULL would do in Django).
        parent = q(Site._meta.get_field("depends_on").column)
        cursor.execute(f"UPDATE {table} SET {parent} = NULL WHERE {parent} = %s", [site.pk])  # noqa: S608
        cursor.execute(f"DELETE FROM {table} WHERE {pk} = %s", [site.pk])  # noqa: S608
        if cursor.rowcount == 0:
            raise Site.DoesNotExist(f"Site {site.pk} was deleted.")
        # In the same transaction: no event for a delete that did not happen.
        _audit(AuditAction.SITE_DELETED, site, actor, request, {"url": site.url})
    site.pk = None  # as Model.delete() leaves it


def _channels(project: Project, ids: list[int] | None) -> list[Channel] | None:
    """The project's channels with these ids (a ValidationError on `channels` for any other)."""
    if ids is None:
        return None
    found = list(Channel.objects.filter(project=project, pk__in=set(ids)))
    missing = sorted(set(ids) - {channel.pk for channel in found})
    if missing:
        listed = ", ".join(map(str, missing[:20]))
        raise ValidationError({"channels": [f"The project has no channel with the id {listed}."]})
    return found


def locations_clean(names: list[str] | None) -> list[Location] | None:
    """The enabled locations of these names (a ValidationError on `locations` for any other).

    None stays None (leave them as they are); [] means every enabled location.
    """
    if names is None:
        return None
    wanted = list(dict.fromkeys(str(name).strip() for name in names))
    found = {loc.name: loc for loc in Location.objects.filter(name__in=wanted, enabled=True)}
    missing = [name for name in wanted if name not in found]
    if missing:
        listed = ", ".join(repr(name[:40]) for name in missing[:20])
        raise ValidationError({"locations": [f"No enabled location is named {listed}."]})
    return [found[name] for name in wanted]


def tags_clean(names: list[str] | None) -> list[str] | None:
    """Tag names stripped, each once (first spelling kept), checked: a ValidationError on `tags`.

    None stays None (leave the tags as they are); [] removes them all.
    """
    if names is None:
        return None
    kept: dict[str, str] = {}
    for raw in names:
        name = " ".join(str(raw).split())
        if not name:
            raise ValidationError({"tags": ["A tag cannot be empty."]})
        if len(name) > MAX_TAG_LENGTH:
            raise ValidationError(
                {"tags": [f"A tag has at most {MAX_TAG_LENGTH} characters: {name[:20]}…"]}
            )
        if "," in name:
            raise ValidationError({"tags": [f"A tag cannot contain a comma: {name}"]})
        kept.setdefault(name.lower(), name)
    if len(kept) > MAX_TAGS:
        raise ValidationError({"tags": [f"A monitor has at most {MAX_TAGS} tags."]})
    return list(kept.values())


def _tags_ensure(project: Project, names: list[str]) -> list[Tag]:
    """The project's tags of these names (matched ignoring case), new ones created.

    ignore_conflicts: two requests adding the same new tag both end with the one row.
    """
    wanted = {name.lower(): name for name in names}
    existing = Tag.objects.filter(project=project).annotate(lowered=Lower("name"))
    found = {tag.lowered: tag for tag in existing.filter(lowered__in=wanted)}
    missing = [name for key, name in wanted.items() if key not in found]
    if missing:
        Tag.objects.bulk_create(
            [Tag(project=project, name=name, color=tag_color(name)) for name in missing],
            ignore_conflicts=True,
        )
        found.update({tag.lowered: tag for tag in existing.filter(lowered__in=wanted)})
    return [found[key] for key in wanted if key in found]


def tag_color(name: str) -> str:
    # A stable pick (not hash(), which changes per process).
    return TAG_COLORS[sum(name.lower().encode()) % len(TAG_COLORS)]


def _split(kind: str, options: dict) -> tuple[dict, dict]:
    """(plain options, secrets), a masked secret dropped so the stored one stays."""
    secret_names = kinds.get(kind).SECRETS
    plain = {k: v for k, v in options.items() if k not in secret_names}
    secret = {k: v for k, v in options.items() if k in secret_names and v != SECRET_MASK}
    return plain, secret


def _audit_update(site: Site, before: dict, actor, request) -> None:
    """One event per update: paused or resumed when only `enabled` changed, else changed."""
    changed = {
        field: {"from": old, "to": _value(site, field)}
        for field, old in before.items()
        if old != _value(site, field)
    }
    if not changed:
        return
    if set(changed) == {"enabled"}:
        action = AuditAction.SITE_RESUMED if site.enabled else AuditAction.SITE_PAUSED
        _audit(action, site, actor, request, {})
    else:
        _audit(AuditAction.SITE_CHANGED, site, actor, request, changed)


def _value(site: Site, field: str):
    if field == "channels":
        return sorted(site.channels.values_list("pk", flat=True))
    if field == "tags":
        return sorted(site.tags.values_list("name", flat=True))
    if field == "locations":
        return sorted(site.locations.values_list("name", flat=True))
    return getattr(site, field)


def _audit(action: AuditAction, site: Site, actor, request, detail: dict) -> None:
    audit_record(
        action=action,
        actor=actor,
        actor_name="" if actor is not None else "operator",
        project=site.project,
        target=site,
        detail=detail,
        request=request,
    )


def site_find(identifier: str | int, *, sites=None) -> Site:
    """Find a site by id, by URL (normalised) or by another kind's target, as an
    operator names it on the command line.

    Looks among `sites` (a queryset; every site by default). Raises
    Site.DoesNotExist for anything that names no site, including text that is
    not a valid URL at all, and Site.MultipleObjectsReturned for a URL
    monitored in several projects.
    """
    sites = Site.objects.all() if sites is None else sites
    text = str(identifier).strip()
    if text.isascii() and text.isdigit() and len(text) <= 19:
        return sites.get(pk=int(text))
    if "://" in text and not text.lower().startswith(("http://", "https://")):
        # Another kind's target as the monitor shows it ("tcp://db:5432").
        return sites.exclude(kind__in=["http", "heartbeat"]).get(url=text)
    try:
        url = normalize_url(text)
    except ValidationError:
        raise Site.DoesNotExist(f"No site is monitored at {text!r}.") from None
    return sites.get(url=url)


def _history_deletes() -> list[str]:
    """DELETEs of one site's rows (the site's id is the parameter), children first.

    What ON DELETE CASCADE does on PostgreSQL; for SQLite only.
    """
    q = connection.ops.quote_name
    attempts, transitions, checks, rollups, gaps, beats = (
        q(model._meta.db_table)
        for model in (
            NotificationAttempt,
            Transition,
            Check,
            CheckRollup,
            MonitoringGap,
            Heartbeat,
        )
    )
    blocks = q(CheckBlock._meta.db_table)
    others = [
        q(model._meta.db_table)
        for model in (
            MaintenanceWindow.sites.through,
            IncidentNote,
            SiteLocation,
            Site.tags.through,
            Site.locations.through,
            StatusPageMonitor,
            StatusIncident.sites.through,
        )
    ]
    # Names come from _meta, quoted; the id is a parameter.
    return [
        f"DELETE FROM {attempts} WHERE transition_id IN "  # noqa: S608
        f"(SELECT id FROM {transitions} WHERE site_id = %s)",
        *(
            f"DELETE FROM {table} WHERE site_id = %s"  # noqa: S608
            for table in (transitions, checks, blocks, rollups, gaps, beats, *others)
        ),
    ]


def _save(site: Site) -> Site:
    try:
        with transaction.atomic():
            site.save()
    except IntegrityError:
        # Another request added the same URL between full_clean() and save().
        raise ValidationError({"url": [DUPLICATE_URL]}) from None
    return site
