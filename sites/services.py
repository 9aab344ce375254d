"""Writes to sites: the one path used by the API, the dashboard and the commands.

Each function validates through Site.full_clean() (URL normalisation, the
private-address guard, interval and timeout limits, uniqueness) and raises
django.core.exceptions.ValidationError with per-field messages.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from sites.models import DUPLICATE_URL, Site
from sites.targets import normalize_url
from teams.audit import AuditAction, audit_record
from teams.models import Project

EDITABLE_FIELDS = ("name", "interval", "timeout", "enabled")


def site_create(
    *,
    project: Project,
    url: str,
    name: str = "",
    interval: int = 60,
    timeout: int = 10,
    enabled: bool = True,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Site:
    """Add a site; `actor` and `request` say who, for the audit log (None: an operator)."""
    site = Site(
        project=project, url=url, name=name, interval=interval, timeout=timeout, enabled=enabled
    )
    site.next_check_at = timezone.now()  # check a new site straight away
    site.full_clean()
    with transaction.atomic():
        _save(site)
        _audit(AuditAction.SITE_CREATED, site, actor, request, {"url": site.url})
    return site


def site_update(
    *,
    site: Site,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
    **changes,
) -> Site:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    was_enabled = site.enabled
    before = {field: getattr(site, field) for field in changes}
    for field, value in changes.items():
        setattr(site, field, value)
    if site.enabled and not was_enabled:
        site.next_check_at = timezone.now()  # re-enabled: check now, not after a stale due time
    site.full_clean()
    try:
        with transaction.atomic():
            # Save only what a user may edit, so a concurrent check's state is kept.
            site.save(update_fields=[*changes, "next_check_at"])
            _audit_update(site, before, actor, request)
    except DatabaseError:
        # update_fields on a row deleted meanwhile updates nothing and raises.
        if not Site.objects.filter(pk=site.pk).exists():
            raise Site.DoesNotExist(f"Site {site.pk} was deleted.") from None
        raise
    return site


def site_delete(
    *,
    site: Site,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> None:
    """Delete a site; its checks and transitions go with it (ON DELETE CASCADE)."""
    with transaction.atomic():
        _audit(AuditAction.SITE_DELETED, site, actor, request, {"url": site.url})
        site.delete()


def _audit_update(site: Site, before: dict, actor, request) -> None:
    """One event per update: paused or resumed when only `enabled` changed, else changed."""
    changed = {
        field: {"from": old, "to": getattr(site, field)}
        for field, old in before.items()
        if old != getattr(site, field)
    }
    if not changed:
        return
    if set(changed) == {"enabled"}:
        action = AuditAction.SITE_RESUMED if site.enabled else AuditAction.SITE_PAUSED
        _audit(action, site, actor, request, {})
    else:
        _audit(AuditAction.SITE_CHANGED, site, actor, request, changed)


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
    """Find a site by id or by URL (normalised), as an operator names it on the command line.

    Looks among `sites` (a queryset; every site by default). Raises
    Site.DoesNotExist for anything that names no site, including text that is
    not a valid URL at all, and Site.MultipleObjectsReturned for a URL
    monitored in several projects.
    """
    sites = Site.objects.all() if sites is None else sites
    text = str(identifier).strip()
    if text.isascii() and text.isdigit() and len(text) <= 19:
        return sites.get(pk=int(text))
    try:
        url = normalize_url(text)
    except ValidationError:
        raise Site.DoesNotExist(f"No site is monitored at {text!r}.") from None
    return sites.get(url=url)


def _save(site: Site) -> Site:
    try:
        with transaction.atomic():
            site.save()
    except IntegrityError:
        # Another request added the same URL between full_clean() and save().
        raise ValidationError({"url": [DUPLICATE_URL]}) from None
    return site
