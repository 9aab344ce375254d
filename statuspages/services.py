"""Writes to status pages and their incidents: one path for the API, the editor and the admin.

Each function validates first and raises django.core.exceptions.ValidationError
with per-field messages (the API's field names, snake_case); callers check the
user's role (teams.access) before calling. Every committed write drops what the
public pages cached of the page (statuspages.cache) and is recorded in the audit
log.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from sites.models import Site
from statuspages import cache
from statuspages.models import (
    StatusIncident,
    StatusIncidentUpdate,
    StatusPage,
    StatusPageGroup,
    StatusPageMonitor,
)
from teams.audit import AuditAction, audit_record
from teams.models import Project
from uptime.text import validate_display_name

PAGE_FIELDS = (
    "slug",
    "title",
    "description",
    "custom_domain",
    "show_urls",
    "show_errors",
    "show_response_times",
)
MAX_LOGO_BYTES = 256 * 1024
# Recognised by their first bytes, whatever the client says; never SVG, which can carry script.
LOGO_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
MAX_GROUPS = 50
MAX_MONITORS = 500
MAX_TEXT = 200
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")


@dataclass
class MonitorEntry:
    """A monitor chosen for a page: the site's id and the name the page shows for it."""

    site: int
    display_name: str = ""


@dataclass
class Group:
    name: str = ""
    monitors: list[MonitorEntry] | None = None


def status_page_create(
    *,
    project: Project,
    slug: str,
    title: str,
    description: str = "",
    custom_domain: str | None = None,
    show_urls: bool = False,
    show_errors: bool = False,
    show_response_times: bool = False,
    sites: list[int] | None = None,
    groups: list[Group] | None = None,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> StatusPage:
    """A new page; its monitors as `groups`, or as `sites` (one unnamed group)."""
    page = StatusPage(
        project=project,
        slug=slug,
        title=title,
        description=description,
        custom_domain=custom_domain,
        show_urls=show_urls,
        show_errors=show_errors,
        show_response_times=show_response_times,
    )
    layout = _layout(project, sites=sites, groups=groups)
    page_clean(page)
    with transaction.atomic():
        _save(page)
        if layout is not None:
            _write_layout(page, layout)
        _audit(AuditAction.STATUS_PAGE_CREATED, page, page, actor, request, {"slug": page.slug})
        _invalidate_on_commit(page.pk)
    return page


def status_page_update(
    *,
    page: StatusPage,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
    sites: list[int] | None = None,
    groups: list[Group] | None = None,
    **changes,
) -> StatusPage:
    """Change a page's settings; `sites` or `groups`, when given, replace its monitors."""
    unknown = set(changes) - set(PAGE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    before = {field: getattr(page, field) for field in changes}
    for field, value in changes.items():
        setattr(page, field, value)
    layout = _layout(page.project, sites=sites, groups=groups)
    page_clean(page)
    page.updated_at = timezone.now()
    detail = {
        field: {"from": old, "to": getattr(page, field)}
        for field, old in before.items()
        if old != getattr(page, field)
    }
    with transaction.atomic():
        _save(page, update_fields=[*changes, "updated_at"])
        if layout is not None:
            _write_layout(page, layout)
            detail["monitors"] = sum(len(group.monitors or []) for group in layout)
        if detail:
            _audit(AuditAction.STATUS_PAGE_CHANGED, page, page, actor, request, detail)
        _invalidate_on_commit(page.pk)
    return page


def status_page_delete(
    *,
    page: StatusPage,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> None:
    page_id = page.pk
    with transaction.atomic():
        _audit(AuditAction.STATUS_PAGE_DELETED, page, page, actor, request, {"slug": page.slug})
        deleted, _ = StatusPage.objects.filter(pk=page_id).delete()
        if not deleted:
            raise StatusPage.DoesNotExist(f"Status page {page_id} was deleted.")
        _invalidate_on_commit(page_id)
    page.pk = None


def status_page_logo_set(
    *,
    page: StatusPage,
    data: bytes,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> StatusPage:
    """Store a logo; its type is read from its first bytes (PNG, JPEG, GIF, WebP)."""
    page.logo_type = logo_type_of(data)
    page.logo = bytes(data)
    page.updated_at = timezone.now()
    with transaction.atomic():
        _save(page, update_fields=["logo", "logo_type", "updated_at"])
        detail = {"type": page.logo_type, "bytes": len(data)}
        _audit(AuditAction.STATUS_PAGE_CHANGED, page, page, actor, request, {"logo": detail})
        _invalidate_on_commit(page.pk)
    return page


def status_page_logo_clear(
    *,
    page: StatusPage,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> StatusPage:
    page.logo, page.logo_type, page.updated_at = None, "", timezone.now()
    with transaction.atomic():
        _save(page, update_fields=["logo", "logo_type", "updated_at"])
        _audit(AuditAction.STATUS_PAGE_CHANGED, page, page, actor, request, {"logo": None})
        _invalidate_on_commit(page.pk)
    return page


def logo_type_of(data: bytes) -> str:
    """The image type of a logo, or a ValidationError on `logo` (too big, not an image we take)."""
    if not data:
        raise ValidationError({"logo": ["The logo is empty."]})
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationError(
            {"logo": [f"The logo is {len(data)} bytes; at most {MAX_LOGO_BYTES} are accepted."]}
        )
    for signature, content_type in LOGO_SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValidationError(
        {"logo": ["The logo must be a PNG, JPEG, GIF or WebP image (SVG is not accepted)."]}
    )


def incident_create(
    *,
    page: StatusPage,
    title: str,
    message: str,
    status: str = StatusIncidentUpdate.Status.INVESTIGATING,
    impact: str = StatusIncident.Impact.MINOR,
    kind: str = StatusIncident.Kind.INCIDENT,
    sites: list[int] | None = None,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> StatusIncident:
    """An incident or an announcement with its first update (resolved at once if so written)."""
    now = timezone.now()
    incident = StatusIncident(
        page=page, title=title, impact=impact, kind=kind, created_by=_user(actor), created_at=now
    )
    first = StatusIncidentUpdate(
        incident=incident, status=status, message=message, created_by=_user(actor), created_at=now
    )
    if status == StatusIncidentUpdate.Status.RESOLVED:
        incident.resolved_at = now
    chosen = _incident_sites(page, sites)
    _clean_incident(incident, first)
    with transaction.atomic():
        incident.save()
        first.incident = incident
        first.save()
        if chosen:
            incident.sites.set(chosen)
        _touch(page)
        detail = {"kind": incident.kind, "status": first.status}
        _audit(AuditAction.STATUS_INCIDENT_CREATED, page, incident, actor, request, detail)
        _invalidate_on_commit(page.pk)
    return incident


def incident_update(
    *,
    incident: StatusIncident,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
    sites: list[int] | None = None,
    **changes,
) -> StatusIncident:
    """Correct an incident's title, impact, kind or monitors (its course is told by updates)."""
    unknown = set(changes) - {"title", "impact", "kind"}
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        setattr(incident, field, value)
    chosen = _incident_sites(incident.page, sites)
    _clean_incident(incident)
    with transaction.atomic():
        if changes:
            incident.save(update_fields=list(changes))
        if chosen is not None:
            incident.sites.set(chosen)
        _touch(incident.page)
        detail = {**changes, **({"sites": sites} if sites is not None else {})}
        _audit(AuditAction.STATUS_INCIDENT_CHANGED, incident.page, incident, actor, request, detail)
        _invalidate_on_commit(incident.page_id)
    return incident


def incident_update_add(
    *,
    incident: StatusIncident,
    status: str,
    message: str,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> StatusIncidentUpdate:
    """A new update; "resolved" resolves the incident, any other status reopens it."""
    now = timezone.now()
    update = StatusIncidentUpdate(
        incident=incident, status=status, message=message, created_by=_user(actor), created_at=now
    )
    _clean_incident(None, update)
    resolved = status == StatusIncidentUpdate.Status.RESOLVED
    with transaction.atomic():
        update.save()
        # Resolved once: the first resolution's moment stays.
        if resolved and incident.resolved_at is None:
            incident.resolved_at = now
        elif not resolved:
            incident.resolved_at = None
        StatusIncident.objects.filter(pk=incident.pk).update(resolved_at=incident.resolved_at)
        _touch(incident.page)
        detail = {"status": status}
        _audit(AuditAction.STATUS_INCIDENT_CHANGED, incident.page, incident, actor, request, detail)
        _invalidate_on_commit(incident.page_id)
    return update


def incident_delete(
    *,
    incident: StatusIncident,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> None:
    page = incident.page
    with transaction.atomic():
        _audit(AuditAction.STATUS_INCIDENT_DELETED, page, incident, actor, request, {})
        deleted, _ = StatusIncident.objects.filter(pk=incident.pk).delete()
        if not deleted:
            raise StatusIncident.DoesNotExist(f"Incident {incident.pk} was deleted.")
        _touch(page)
        _invalidate_on_commit(page.pk)
    incident.pk = None


# --- validation ------------------------------------------------------------


def normalize_domain(value: str | None) -> str | None:
    """A custom domain as stored: lowercase, no trailing dot; None for empty."""
    if value is None:
        return None
    value = value.strip().lower().rstrip(".")
    return value or None


def page_clean(page: StatusPage) -> None:
    """Check a page's settings (normalising its domain); a ValidationError per field."""
    page.custom_domain = normalize_domain(page.custom_domain)
    errors: dict[str, list[str]] = {}
    try:
        page.full_clean(exclude=["project"])
    except ValidationError as exc:
        errors = {field: list(messages) for field, messages in exc.message_dict.items()}
    _rename_unique_errors(page, errors)
    _check_text_length(page, "description", errors)
    try:
        validate_display_name(page.title)
    except ValidationError as exc:
        errors.setdefault("title", []).append(exc.messages[0].replace("name", "title", 1))
    if page.custom_domain and "custom_domain" not in errors:
        problem = _domain_problem(page.custom_domain)
        if problem:
            errors["custom_domain"] = [problem]
    if errors:
        raise ValidationError(errors)


def _rename_unique_errors(page: StatusPage, errors: dict) -> None:
    """Say plainly which value is taken (Django's message names the model)."""
    taken = {
        "slug": f"The address /status/{page.slug} is taken; choose another slug.",
        "custom_domain": f"{page.custom_domain} is already another status page's domain.",
    }
    for field, message in taken.items():
        if field in errors and any("already exists" in m for m in errors[field]):
            errors[field] = [message]


def _check_text_length(obj, field: str, errors: dict) -> None:
    """A TextField's max_length, which Django leaves to forms and does not validate."""
    limit = obj._meta.get_field(field).max_length
    if len(getattr(obj, field) or "") > limit and field not in errors:
        errors[field] = [f"At most {limit} characters."]


def _domain_problem(domain: str) -> str | None:
    if "://" in domain or "/" in domain or ":" in domain:
        return "Write the host name only (status.example.com): no scheme, port or path."
    if len(domain) > 253 or not HOSTNAME.fullmatch(domain) or domain.rsplit(".", 1)[1].isdigit():
        return f"{domain!r} is not a valid host name (such as status.example.com)."
    own = {urlsplit(settings.UPTIME_BASE_URL).hostname, *settings.ALLOWED_HOSTS}
    if domain in own:
        # The app's own host would then answer with the status page instead of the app.
        return f"{domain} is this installation's own address."
    return None


def _clean_incident(
    incident: StatusIncident | None, update: StatusIncidentUpdate | None = None
) -> None:
    errors: dict[str, list[str]] = {}
    for obj, exclude in ((incident, ["page", "created_by"]), (update, ["incident", "created_by"])):
        if obj is None:
            continue
        try:
            obj.full_clean(exclude=exclude, validate_unique=False)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    if update is not None:
        _check_text_length(update, "message", errors)
    if incident is not None and "title" not in errors:
        try:
            validate_display_name(incident.title)
        except ValidationError as exc:
            errors["title"] = [exc.messages[0].replace("name", "title", 1)]
    if errors:
        raise ValidationError(errors)


def _layout(
    project: Project, *, sites: list[int] | None, groups: list[Group] | None
) -> list[Group] | None:
    """The groups to write, checked: each monitor of the project, once on the page."""
    if sites is not None and groups is not None:
        raise ValidationError({"sites": ["Send sites or groups, not both."]})
    if sites is None and groups is None:
        return None
    field = "sites" if sites is not None else "groups"
    if sites is not None:
        groups = [Group(name="", monitors=[MonitorEntry(site=pk) for pk in sites])]
    entries = [entry for group in groups for entry in group.monitors or []]
    if len(groups) > MAX_GROUPS:
        raise ValidationError({field: [f"At most {MAX_GROUPS} groups on a page."]})
    if len(entries) > MAX_MONITORS:
        raise ValidationError({field: [f"At most {MAX_MONITORS} monitors on a page."]})
    ids = [entry.site for entry in entries]
    repeated = sorted({pk for pk in ids if ids.count(pk) > 1})
    if repeated:
        raise ValidationError(
            {field: [f"A monitor is shown once per page; repeated: {_listed(repeated)}."]}
        )
    found = set(Site.objects.filter(project=project, pk__in=ids).values_list("pk", flat=True))
    missing = sorted(set(ids) - found)
    if missing:
        raise ValidationError(
            {field: [f"The project has no monitor with the id {_listed(missing)}."]}
        )
    for text in [g.name for g in groups] + [e.display_name for e in entries]:
        problem = _text_problem(text)
        if problem:
            raise ValidationError({field: [problem]})
    return groups


def _text_problem(text: str) -> str | None:
    if len(text) > MAX_TEXT:
        return f"Group and display names have at most {MAX_TEXT} characters."
    try:
        validate_display_name(text)
    except ValidationError as exc:
        return exc.messages[0]
    return None


def _incident_sites(page: StatusPage, ids: list[int] | None) -> list[int] | None:
    """The ids, if every one is a monitor shown on the page (a ValidationError on `sites`)."""
    if ids is None:
        return None
    shown = set(page.monitors.filter(site_id__in=ids).values_list("site_id", flat=True))
    missing = sorted(set(ids) - shown)
    if missing:
        raise ValidationError(
            {"sites": [f"The page shows no monitor with the id {_listed(missing)}."]}
        )
    return sorted(shown)


def _listed(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:20]))


# --- writing ---------------------------------------------------------------


def _save(page: StatusPage, update_fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            page.save(update_fields=update_fields)
    except IntegrityError:
        # Another request took the slug or the domain between the check and the save.
        page_clean(page)
        raise
    except DatabaseError:
        # update_fields on a row deleted meanwhile updates nothing and raises.
        if update_fields and not StatusPage.objects.filter(pk=page.pk).exists():
            raise StatusPage.DoesNotExist(f"Status page {page.pk} was deleted.") from None
        raise


def _write_layout(page: StatusPage, groups: list[Group]) -> None:
    """Replace the page's groups and monitors, in the order given."""
    StatusPageGroup.objects.filter(page=page).delete()
    made = StatusPageGroup.objects.bulk_create(
        StatusPageGroup(page=page, name=group.name, position=i) for i, group in enumerate(groups)
    )
    StatusPageMonitor.objects.bulk_create(
        StatusPageMonitor(
            group=row, page=page, site_id=entry.site, display_name=entry.display_name, position=j
        )
        for row, group in zip(made, groups, strict=True)
        for j, entry in enumerate(group.monitors or [])
    )


def _touch(page: StatusPage) -> None:
    page.updated_at = timezone.now()
    StatusPage.objects.filter(pk=page.pk).update(updated_at=page.updated_at)


def _invalidate_on_commit(page_id: int) -> None:
    transaction.on_commit(lambda: cache.invalidate_pages([page_id]))


def _user(actor: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return actor if actor is not None and actor.is_authenticated else None


def _audit(action: AuditAction, page: StatusPage, target, actor, request, detail: dict) -> None:
    audit_record(
        action=action,
        actor=actor,
        actor_name="" if actor is not None else "operator",
        project=page.project,
        target=target,
        detail=detail,
        request=request,
    )
