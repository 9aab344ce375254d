"""Acknowledging a down monitor: someone is on it, so reminders and escalation stop.

One Acknowledgement per incident (its down transition), made from the site
page, the API or the signed link in an alert; the recovery is still announced.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from monitor.models import Transition
from notifications.models import Acknowledgement
from sites.models import Site
from teams.access import Action, require
from teams.audit import audit_record

# Not (yet) in teams.audit.AuditAction, which the teams app owns.
SITE_ACKNOWLEDGED = "site.acknowledged"
LINK_SALT = "uptime.ack"
# An alert's link works for a week: long enough for a weekend outage, short
# enough that a leaked old message acknowledges nothing.
LINK_MAX_AGE = timedelta(days=7)
NOT_DOWN = "{site} is not down: there is nothing to acknowledge."
INCIDENT_OVER = "This alert's incident is over: {site} has recovered since."


def current_incident(site: Site) -> Transition | None:
    """The down transition that started the site's current outage, or None when it is not down."""
    if site.status != Site.Status.DOWN:
        return None
    return (
        Transition.objects.filter(site_id=site.pk, to_status=Site.Status.DOWN)
        .select_related("acknowledgement")
        .order_by("-created_at", "-id")
        .first()
    )


def acknowledgement_of(incident: Transition | None) -> Acknowledgement | None:
    """The incident's acknowledgement, if someone has acknowledged it."""
    # A missing reverse one-to-one raises RelatedObjectDoesNotExist, an AttributeError.
    return getattr(incident, "acknowledgement", None) if incident is not None else None


def acknowledge(
    *,
    site: Site,
    actor: AbstractBaseUser,
    via: str,
    incident: Transition | None = None,
    request: HttpRequest | None = None,
) -> Acknowledgement:
    """Acknowledge the site's current incident; a second call returns the first, unchanged."""
    return acknowledgement_ensure(
        site=site, actor=actor, via=via, incident=incident, request=request
    )[0]


def acknowledgement_ensure(
    *,
    site: Site,
    actor: AbstractBaseUser,
    via: str,
    incident: Transition | None = None,
    request: HttpRequest | None = None,
) -> tuple[Acknowledgement, bool]:
    """acknowledge(), also saying whether this call made the acknowledgement.

    `incident`, when given (a link names one), must still be the current
    one: an old alert's link never acknowledges a later outage.
    """
    require(user=actor, project=site.project_id, action=Action.EDIT_MONITORS)
    current = current_incident(site)
    if current is None:
        raise ValidationError(NOT_DOWN.format(site=site))
    if incident is not None and incident.pk != current.pk:
        raise ValidationError(INCIDENT_OVER.format(site=site))
    with transaction.atomic():
        # One per transition (a OneToOne): a second request, even a racing
        # one, gets the first row back from get_or_create.
        ack, created = Acknowledgement.objects.get_or_create(
            transition=current,
            defaults={"site": site, "by": actor, "by_name": actor.get_username(), "via": via},
        )
        if created:
            audit_record(
                action=SITE_ACKNOWLEDGED,
                actor=actor,
                project=site.project,
                target=site,
                detail={"transition": current.pk, "via": via},
                request=request,
            )
    return ack, created


def ack_link(transition: Transition) -> str:
    """A signed link that acknowledges this incident (login required when opened)."""
    token = signing.dumps({"t": transition.pk}, salt=LINK_SALT, compress=False)
    return f"{settings.UPTIME_BASE_URL.rstrip('/')}/ack/{token}"


def transition_id_from_link(token: str) -> int:
    """The transition a link's token names; signing.BadSignature (or SignatureExpired) if not."""
    payload = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    if not isinstance(payload, dict) or not isinstance(payload.get("t"), int):
        raise signing.BadSignature("The link names no incident.")
    return payload["t"]
