"""Writes to locations: the one path for the API, the `location` command and the admin.

Each raises django.core.exceptions.ValidationError naming the field, so the
API answers a 400 and the command a clear message. A location is disabled
rather than deleted once checks name it: Check.location has no constraint,
and a deleted name would leave those checks pointing at nothing.
"""

import re
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from monitor.locations import DEFAULT, location_token
from monitor.models import Check, CheckBlock, Location

# As UPTIME_LOCATION is checked (uptime/settings.py): the name is the queue's.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
NAME_RULE = "1 to 32 lowercase letters, digits and dashes, starting with a letter or digit"
MAX_LABEL = Location._meta.get_field("label").max_length


def location_name_clean(name: str) -> str:
    name = str(name).strip()
    if not NAME_PATTERN.fullmatch(name):
        raise ValidationError({"name": [f"{name[:40]!r} is not a location name: use {NAME_RULE}."]})
    return name


def _label_clean(label: str) -> str:
    label = " ".join(str(label).split())
    if len(label) > MAX_LABEL:
        raise ValidationError({"label": [f"At most {MAX_LABEL} characters."]})
    return label


def location_create(*, name: str, label: str = "") -> Location:
    location = Location(name=location_name_clean(name), label=_label_clean(label))
    if Location.objects.filter(name=location.name).exists():
        raise ValidationError({"name": [f"A location named {location.name!r} exists already."]})
    try:
        with transaction.atomic():
            location.save()
    except IntegrityError:
        # Another request added the same name between the check and the insert.
        raise ValidationError(
            {"name": [f"A location named {location.name!r} exists already."]}
        ) from None
    return location


def location_update(
    *, location: Location, label: str | None = None, enabled: bool | None = None
) -> Location:
    """Change the label or switch it on or off (the name is its queue's: it stays)."""
    fields = []
    if label is not None:
        location.label = _label_clean(label)
        fields.append("label")
    if enabled is not None:
        others = Location.objects.filter(enabled=True).exclude(pk=location.pk)
        if not enabled and location.name == DEFAULT and not others.exists():
            # The central workers may stop probing only when another location checks.
            raise ValidationError(
                {
                    "enabled": [
                        "The central workers are the only enabled location; add another first."
                    ]
                }
            )
        location.enabled = enabled
        fields.append("enabled")
    if fields:
        location.save(update_fields=fields)
    return location


def location_rotate_token(*, location: Location) -> str:
    """Revoke the location's token and answer the new one (its probe needs restarting with it)."""
    # In SQL, so two rotations at once each revoke a version.
    Location.objects.filter(pk=location.pk).update(token_version=F("token_version") + 1)
    location.refresh_from_db(fields=["token_version"])
    return location_token(location)


def location_named_by_checks(location_id: int) -> bool:
    """Whether any check, a row or packed (monitor.packing), was made from this location."""
    return (
        Check.objects.filter(location_id=location_id).exists()
        or CheckBlock.objects.filter(location_id=location_id).exists()
    )


def location_remove(*, location: Location) -> bool:
    """Delete a location no check names; else disable it. True when it was deleted."""
    if location.name == DEFAULT:
        raise ValidationError({"name": ["The default location is the central workers."]})
    if location_named_by_checks(location.pk):
        location_update(location=location, enabled=False)
        return False
    location.delete()
    return True


def probe_command(location: Location, token: str) -> str:
    """The command that starts this location's probe on another machine
    (README, "Locations"), as the Redis user the README has you make for it.

    The broker's password is left as a placeholder: the token is the
    location's own secret, the broker's is the operator's to hand out.
    """
    broker = _broker_url_for_probe(settings.CELERY_BROKER_URL, f"location-{location.name}")
    return (
        f"UPTIME_LOCATION={location.name} UPTIME_LOCATION_TOKEN={token} "
        f"CELERY_BROKER_URL='{broker}' make probe"
    )


def _broker_url_for_probe(url: str, user: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        return f"rediss://{user}:PASSWORD@BROKER-HOST:6379/0"
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    netloc = f"{user}:PASSWORD@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
