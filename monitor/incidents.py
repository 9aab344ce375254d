"""A monitor's incidents: each downtime, who acknowledged it, and members' notes on it.

An incident is a transition to "down" and lasts until the next transition
that leaves down (still open when there is none). Its reason is what the
check that caused it said; once the pruner has deleted that check, "—".
Notes hang on the down transition that started the incident.

incident_list is three queries whatever the number of incidents or notes:
the down transitions (with their check and acknowledgement joined), the
transitions that ended them, and the notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import timezone

from monitor.models import IncidentNote, Transition
from notifications.models import Acknowledgement
from sites.models import Site

NOTE_MAX_LENGTH = IncidentNote._meta.get_field("text").max_length
NO_REASON = "—"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class Incident:
    transition: Transition
    started_at: datetime
    ended_at: datetime | None  # None: still down
    reason: str
    acknowledgement: Acknowledgement | None
    notes: list[IncidentNote]

    @property
    def id(self) -> int:
        return self.transition.pk

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def duration(self, now: datetime | None = None) -> timedelta:
        """How long it lasted; an open one, so far."""
        return (self.ended_at or now or timezone.now()) - self.started_at


def incident_list(
    site: Site, *, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> tuple[list[Incident], bool]:
    """The site's incidents, newest first, and whether older ones are left."""
    downs = list(
        Transition.objects.filter(site=site, to_status=Site.Status.DOWN)
        .select_related("acknowledgement")
        .order_by("-created_at", "-id")[offset : offset + limit + 1]
    )
    more = len(downs) > limit
    downs = downs[:limit]
    if not downs:
        return [], more
    ends = _ends(site, downs)
    notes: dict[int, list[IncidentNote]] = {t.pk: [] for t in downs}
    for note in IncidentNote.objects.filter(transition_id__in=notes).order_by("created_at", "id"):
        notes[note.transition_id].append(note)
    incidents = [
        Incident(
            transition=down,
            started_at=down.created_at,
            ended_at=ends.get(down.pk),
            reason=_reason(down),
            acknowledgement=_acknowledgement(down),
            notes=notes[down.pk],
        )
        for down in downs
    ]
    return incidents, more


def incident_get(site: Site, transition_id: int | str) -> Transition:
    """The down transition that started one of this site's incidents, or Transition.DoesNotExist."""
    text = str(transition_id)
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise Transition.DoesNotExist(f"No incident has the id {text!r}.")
    return Transition.objects.get(site=site, pk=int(text), to_status=Site.Status.DOWN)


def note_add(
    *, site: Site, transition: Transition, author: AbstractBaseUser, text: str
) -> IncidentNote:
    """Add a member's note to an incident. ValidationError({"text": …}) for empty or long text.

    The caller has checked the author may edit the site's monitors.
    """
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": ["Write the note: it cannot be empty."]})
    if len(text) > NOTE_MAX_LENGTH:
        raise ValidationError(
            {"text": [f"Keep the note to {NOTE_MAX_LENGTH} characters (it has {len(text)})."]}
        )
    if transition.site_id != site.pk or transition.to_status != Site.Status.DOWN:
        raise Transition.DoesNotExist("That is not one of this site's incidents.")
    return IncidentNote.objects.create(
        site=site,
        transition=transition,
        author=author,
        author_name=author.get_username(),
        text=text,
    )


def _ends(site: Site, downs: list[Transition]) -> dict[int, datetime]:
    """{down transition id: when the site next left down}, in one query."""
    oldest = downs[-1].created_at
    leaving = (
        Transition.objects.filter(site=site, from_status=Site.Status.DOWN, created_at__gte=oldest)
        .exclude(to_status=Site.Status.DOWN)
        .order_by("created_at", "id")
        .values_list("created_at", "id")
    )
    leaving = list(leaving)
    ends: dict[int, datetime] = {}
    position = 0
    # Oldest first: each incident ends at the first leaving transition after it.
    for down in reversed(downs):
        while position < len(leaving) and leaving[position] <= (down.created_at, down.pk):
            position += 1
        if position < len(leaving):
            ends[down.pk] = leaving[position][0]
    return ends


def _reason(down: Transition) -> str:
    check = down.check_result
    return (check.reason if check is not None else "") or NO_REASON


def _acknowledgement(down: Transition) -> Acknowledgement | None:
    try:
        return down.acknowledgement
    except Acknowledgement.DoesNotExist:
        return None
