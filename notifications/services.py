"""Writes to channels: the one path used by the API, the pages and the commands.

Rules are checked here and broken ones raise django ValidationError keyed by
field. A kind's setting is keyed `config.<setting>` ("config.url"); the API
answers those nested, as {"config": {"url": ["…"]}} (notifications.api), and
the pages show them beside the setting's input.

`actor` is who acts (an editor or above of the channel's project, else
PermissionDenied); None is an operator at the command line.
"""

from dataclasses import dataclass
from types import ModuleType

from django.conf import settings as django_settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from notifications import messages, transports
from notifications.models import Channel
from notifications.transports.base import TIMEOUT, TransportError
from sites.services import SECRET_MASK
from teams.access import Action, require
from teams.audit import AuditAction, audit_record
from teams.models import Project
from uptime.text import validate_display_name

# Reminders and escalations wait at most a week.
MAX_MINUTES = 7 * 24 * 60
EDITABLE_FIELDS = (
    "name",
    "config",
    "events",
    "is_default",
    "remind_every_minutes",
    "escalate_after_minutes",
    "enabled",
)
TEST_TITLE = "Test message from Uptime"
# What each Field.type accepts before the kind's clean() sees it, so a list
# where text belongs is a 400 naming the setting, not an error inside clean().
ACCEPTED_TYPES = {
    "url": (str,),
    "text": (str, int),
    "choice": (str,),
    "int": (int, str),
    "bool": (bool,),
    "emails": (str, list),
    "headers": (dict, str),
}


def channel_create(
    *,
    actor: AbstractBaseUser | None,
    project: Project,
    kind: str,
    name: str,
    config: dict | None = None,
    events: list[str] | None = None,
    is_default: bool = True,
    remind_every_minutes: int | None = None,
    escalate_after_minutes: int | None = None,
    request: HttpRequest | None = None,
) -> Channel:
    """Add a channel to a project; its secret settings are kept apart and never shown again."""
    _require(actor, project)
    kind_module(kind)
    values = clean_fields(
        name=name,
        events=Channel.DEFAULT_EVENTS if events is None else events,
        remind_every_minutes=remind_every_minutes,
        escalate_after_minutes=escalate_after_minutes,
    )
    channel = Channel(project=project, kind=kind, is_default=is_default, **values)
    channel.config, channel.secrets = clean_settings(kind, config or {})
    with transaction.atomic():
        channel.save()
        _audit(AuditAction.CHANNEL_CREATED, channel, actor, request, {"kind": kind})
    return channel


def channel_update(
    *,
    actor: AbstractBaseUser | None,
    channel: Channel,
    request: HttpRequest | None = None,
    **changes,
) -> Channel:
    """Change a channel. `config` names only the settings that change; the others keep
    their value, and so does a secret sent back as the mask.

    `enabled=True` turns a channel back on and forgets why it was off and its last error.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    _require(actor, channel.project_id)
    # Everything checked before anything changes, every error at once.
    errors = {}
    try:
        values = clean_fields(**{k: v for k, v in changes.items() if k in CLEANERS})
    except ValidationError as exc:
        values, errors = {}, exc.message_dict
    if "config" in changes:
        try:
            config, secrets = clean_settings(
                channel.kind, changes["config"] or {}, stored=channel.settings
            )
        except ValidationError as exc:
            errors = {**errors, **exc.message_dict}
    if errors:
        raise ValidationError(errors)
    before = _snapshot(channel)
    if "config" in changes:
        channel.config, channel.secrets = config, secrets
    for field, value in values.items():
        setattr(channel, field, value)
    if changes.get("is_default") is not None:
        channel.is_default = bool(changes["is_default"])
    if changes.get("enabled") is True:
        channel.enabled = True
        channel.disabled_reason = channel.last_error = ""
        channel.last_error_at = None
    elif changes.get("enabled") is False:
        channel.enabled = False
    with transaction.atomic():
        # Delivery writes the health fields; only what a user edits is saved,
        # unless re-enabling clears them on purpose.
        fields = ["name", "config", "secrets", "events", "is_default"]
        fields += ["remind_every_minutes", "escalate_after_minutes", "enabled"]
        if changes.get("enabled") is True:
            fields += ["disabled_reason", "last_error", "last_error_at"]
        updated = Channel.objects.filter(pk=channel.pk).update(
            **{field: getattr(channel, field) for field in fields}
        )
        if not updated:
            raise Channel.DoesNotExist(f"Channel {channel.pk} was deleted.")
        changed = _changes(before, _snapshot(channel))
        if changed:
            _audit(AuditAction.CHANNEL_CHANGED, channel, actor, request, changed)
    return channel


def channel_delete(
    *, actor: AbstractBaseUser | None, channel: Channel, request: HttpRequest | None = None
) -> None:
    """Delete a channel with its outbox entries; monitors that chose only it fall back to
    the project's default channels."""
    _require(actor, channel.project_id)
    with transaction.atomic():
        deleted, _ = Channel.objects.filter(pk=channel.pk).delete()
        if not deleted:
            raise Channel.DoesNotExist(f"Channel {channel.pk} was deleted.")
        _audit(AuditAction.CHANNEL_DELETED, channel, actor, request, {"kind": channel.kind})
    channel.pk = None


@dataclass(frozen=True)
class TestResult:
    """What the destination said to a test message."""

    ok: bool
    status_code: int | None = None
    answer: str = ""
    error: str = ""


def channel_test(
    *, channel: Channel, title: str = TEST_TITLE, timeout: float = TIMEOUT
) -> TestResult:
    """Send a test message now, through the channel's transport, and say how it went.

    The outcome is the channel's health (last success, last error), but a
    failed test never disables the channel: it is a question, not an alert.
    Outside any transaction: the request goes out before anything is written.
    """
    message = message_for_test(
        title=title,
        detail=f"Alerts of the project {channel.project.name} reach this channel ({channel.name}).",
        project_id=channel.project_id,
        dedup_key=f"uptime-test-{channel.pk}",
    )
    result = send_test(channel.kind, channel.settings, message, timeout=timeout)
    if result.ok:
        Channel.objects.filter(pk=channel.pk).update(last_success_at=timezone.now())
    else:
        Channel.objects.filter(pk=channel.pk).update(
            last_error=result.error[:500], last_error_at=timezone.now()
        )
    return result


def send_test(
    kind: str, settings: dict, message: messages.Message, *, timeout: float = TIMEOUT
) -> TestResult:
    """Send a message through a kind's transport: what the destination said, never raising."""
    try:
        sent = transports.get(kind).send(settings, message, timeout=timeout)
    except TransportError as exc:
        return TestResult(ok=False, status_code=exc.status_code, error=exc.message)
    return TestResult(ok=True, status_code=sent.status_code, answer=sent.answer)


def message_for_test(
    *, title: str = TEST_TITLE, detail: str = "", project_id: int | None = None, dedup_key: str = ""
) -> messages.Message:
    base = django_settings.UPTIME_BASE_URL.rstrip("/")
    return messages.Message(
        event=messages.TEST,
        title=title,
        details=(detail,) if detail else (),
        happened_at=timezone.now(),
        link=f"{base}/?project={project_id}" if project_id else f"{base}/",
        dedup_key=dedup_key or "uptime-test",
    )


# --- Validation ----------------------------------------------------------------


def clean_settings(kind: str, config: dict, *, stored: dict | None = None) -> tuple[dict, dict]:
    """(config, secrets) of a kind's settings, cleaned by the kind's clean().

    `stored` is the channel's current settings: those not named keep their
    value, and so does a secret sent as SECRET_MASK.
    """
    if not isinstance(config, dict):
        raise ValidationError({"config": ["Send the settings as an object."]})
    module = kind_module(kind)
    fields = module.FIELDS
    stored = dict(stored or {})
    errors = {}
    for name, value in config.items():
        if name not in fields:
            errors[f"config.{name}"] = [
                f"{module.LABEL} channels have no setting {name!r}; "
                f"theirs are {', '.join(fields) or 'none'}."
            ]
        elif value is not None and not isinstance(
            value, ACCEPTED_TYPES.get(fields[name].type, (object,))
        ):
            errors[f"config.{name}"] = [f"This is not a valid {fields[name].type} value."]
        elif fields[name].secret and value == SECRET_MASK and not stored.get(name):
            errors[f"config.{name}"] = [
                f"{SECRET_MASK} stands for a stored secret, and none is stored: send the value."
            ]
    if errors:
        raise ValidationError(errors)
    merged = {**stored}
    for name, value in config.items():
        if not (fields[name].secret and value == SECRET_MASK):
            merged[name] = value
    try:
        cleaned = module.clean(merged)
    except ValidationError as exc:
        raise ValidationError(_prefixed(exc)) from None
    secret = {name for name, spec in fields.items() if spec.secret}
    return (
        {k: v for k, v in cleaned.items() if k not in secret},
        {k: v for k, v in cleaned.items() if k in secret and v not in (None, "")},
    )


def _prefixed(exc: ValidationError) -> dict:
    """The kind's errors under `config.<setting>` (`config` for the settings as a whole)."""
    if not hasattr(exc, "error_dict"):
        return {"config": exc.messages}
    errors = {}
    for field, reasons in exc.message_dict.items():
        key = "config" if field == "__all__" else f"config.{field}"
        errors.setdefault(key, []).extend(reasons)
    return errors


def clean_fields(**values) -> dict:
    """Checked name, events and minutes (those given); a ValidationError names each bad one."""
    cleaned, errors = {}, {}
    for field, value in values.items():
        try:
            cleaned[field] = CLEANERS[field](field, value)
        except ValidationError as exc:
            errors[field] = exc.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def _clean_name(field: str, name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("A channel needs a name.")
    limit = Channel._meta.get_field("name").max_length
    if len(name) > limit:
        raise ValidationError(f"At most {limit} characters.")
    validate_display_name(name)
    return name


def _clean_events(field: str, events) -> list[str]:
    if isinstance(events, str | dict) or not hasattr(events, "__iter__"):
        raise ValidationError("Send a list of events.")
    events = list(events)
    unknown = [event for event in events if event not in Channel.Event.values]
    if unknown:
        raise ValidationError(
            f"Unknown event {unknown[0]!r}; the events are {', '.join(Channel.Event.values)}."
        )
    # In the events' own order, each once.
    return [event for event in Channel.Event.values if event in events]


def _clean_minutes(field: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MINUTES:
        raise ValidationError(f"Minutes from 1 to {MAX_MINUTES}, or null for never.")
    return value


CLEANERS = {
    "name": _clean_name,
    "events": _clean_events,
    "remind_every_minutes": _clean_minutes,
    "escalate_after_minutes": _clean_minutes,
}


def _require(actor: AbstractBaseUser | None, project: Project | int) -> None:
    if actor is not None:
        require(user=actor, project=project, action=Action.EDIT_MONITORS)


def kind_module(kind: str) -> ModuleType:
    """The transport of a kind; a ValidationError on `kind` for one this Uptime lacks."""
    try:
        return transports.get(kind)
    except KeyError:
        pass
    except ModuleNotFoundError as exc:
        if exc.name != f"notifications.transports.{kind}":
            raise  # the module exists and lacks something it imports: a real error
    raise ValidationError(
        {"kind": [f"Unknown kind {kind!r}; the kinds are {', '.join(available_kinds())}."]}
    )


def available_kinds() -> list[str]:
    """The kinds whose transport is installed, in the registry's order."""
    found = []
    for kind in transports.KINDS:
        try:
            transports.get(kind)
        except ModuleNotFoundError as exc:
            if exc.name != f"notifications.transports.{kind}":
                raise
        else:
            found.append(kind)
    return found


# --- Audit -----------------------------------------------------------------------


def _snapshot(channel: Channel) -> dict:
    """What the audit log compares; secrets only as whether they changed, never their value."""
    return {
        "name": channel.name,
        "config": dict(channel.config),
        "secrets": dict(channel.secrets),
        "events": list(channel.events),
        "is_default": channel.is_default,
        "remind_every_minutes": channel.remind_every_minutes,
        "escalate_after_minutes": channel.escalate_after_minutes,
        "enabled": channel.enabled,
    }


def _changes(before: dict, after: dict) -> dict:
    changed = {}
    for field, old in before.items():
        new = after[field]
        if old == new:
            continue
        if field == "secrets":
            # Which secrets changed, never their values.
            changed["secrets"] = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        else:
            changed[field] = {"from": old, "to": new}
    return changed


def _audit(action: AuditAction, channel: Channel, actor, request, detail: dict) -> None:
    audit_record(
        action=action,
        actor=actor,
        actor_name="" if actor is not None else "operator",
        project=channel.project,
        target=channel,
        detail=detail,
        request=request,
    )
