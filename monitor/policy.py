"""The alert policy: whether a recorded state change becomes an alert, and when.

Deciding what counts happens in two places, each once:

- Confirmation is part of the state itself (monitor.recording.apply_result):
  a failure becomes a transition to down only after failure_threshold
  failures in a row, so an unconfirmed blip never reaches this module.
- Everything else is decided here, by `decide()`, before an alert is sent;
  notification delivery asks it and then only delivers. In order:

  1. Maintenance: a change inside a maintenance window of the site (or of its
     whole project) is muted. Checks and transitions are still recorded.
  2. Dependencies: a change of a site whose parent (or the parent's parent)
     is down is muted, "suppressed: parent down"; the parent's own alert says
     how many monitors depend on it. While the parent is failing but not yet
     confirmed down, the child's alert waits for the parent's next check.
     A "back up" whose "down" was muted is muted too.
  3. Regional problems (monitor.quorum): a change caused by a failure seen
     from a minority of the site's locations (up to degraded, and back) is
     muted unless the site's owner asked to be told (notify_regional). A
     partial recovery from down is not muted: it answers an alert that went out.
  4. Uptime's own network (monitor.connectivity): a network-level failure
     waits a settle period and is withheld if most sites failed at once.

A verdict is DELIVER, HOLD (until a time), WITHHOLD (the connectivity
incident's own message replaces it) or MUTE (with the reason recorded on the
attempt).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor import connectivity
from monitor.maintenance import in_maintenance
from monitor.models import ConnectivityIncident, Transition
from sites.models import MAX_DEPENDENCY_DEPTH, Site

DELIVER = connectivity.DELIVER
HOLD = connectivity.HOLD
WITHHOLD = connectivity.WITHHOLD
MUTE = "mute"

Status = Transition.NotificationStatus
PARENT_DOWN = "Suppressed: parent down"


@dataclass(frozen=True)
class Verdict:
    action: str
    until: datetime | None = None
    incident: ConnectivityIncident | None = None
    reason: str = ""


def decide(transition: Transition, *, now: datetime) -> Verdict:
    """What to do with a pending transition's alert now."""
    for rule in (_maintenance, _dependency, _regional):
        verdict = rule(transition)
        if verdict is not None:
            return verdict
    return decide_network(transition, now=now)


def decide_network(transition: Transition, *, now: datetime) -> Verdict:
    """decide() for a down transition known to be outside any window and with no parent."""
    judged = connectivity.judge_transition(transition, now=now)
    return Verdict(judged.action, until=judged.until, incident=judged.incident)


def _maintenance(transition: Transition) -> Verdict | None:
    if transition.site_id in in_maintenance([transition.site_id], transition.created_at):
        return Verdict(MUTE, reason="Muted: the monitor was in a maintenance window")
    return None


def _regional(transition: Transition) -> Verdict | None:
    if transition.site.notify_regional or transition.from_status == Site.Status.DOWN:
        return None
    if transition.regional:
        where = transition.locations.replace(",", ", ")
        return Verdict(MUTE, reason=f"Muted: a regional problem (seen down from {where} only)")
    ended = (
        transition.from_status == Site.Status.DEGRADED and transition.to_status == Site.Status.UP
    )
    if ended and _previous_regional(transition):
        return Verdict(MUTE, reason="Muted: the end of a regional problem")
    return None


def _previous_regional(transition: Transition) -> bool:
    """The change that made the site degraded was a regional problem."""
    return bool(
        Transition.objects.filter(site_id=transition.site_id, created_at__lte=transition.created_at)
        .exclude(id=transition.id)
        .order_by("-created_at", "-id")
        .values_list("regional", flat=True)
        .first()
    )


def _dependency(transition: Transition) -> Verdict | None:
    if not transition.is_down:
        if _previous_down_muted(transition):
            return Verdict(MUTE, reason="Muted: its down alert was muted")
        return None
    parent = failing_parent(transition.site)
    if parent is None:
        return None
    if parent.status == Site.Status.DOWN:
        return Verdict(MUTE, reason=f"{PARENT_DOWN} ({parent})")
    # The parent is failing but not confirmed down: wait for its next check.
    wait = min(parent.retry_interval, parent.interval) + parent.timeout
    return Verdict(
        HOLD, until=(parent.last_checked_at or transition.created_at) + timedelta(seconds=wait)
    )


def failing_parent(site: Site) -> Site | None:
    """The nearest ancestor that is down or failing, if any."""
    parent_id = site.depends_on_id
    for _ in range(MAX_DEPENDENCY_DEPTH):
        if parent_id is None:
            return None
        parent = Site.objects.filter(pk=parent_id).first()
        if parent is None:
            return None
        if parent.status == Site.Status.DOWN or (parent.enabled and parent.failures_in_a_row):
            return parent
        parent_id = parent.depends_on_id
    return None


def _previous_down_muted(transition: Transition) -> bool:
    down = (
        Transition.objects.filter(
            site_id=transition.site_id,
            to_status=Site.Status.DOWN,
            created_at__lte=transition.created_at,
        )
        .exclude(id=transition.id)
        .order_by("-created_at", "-id")
        .values_list("notification_status", flat=True)
        .first()
    )
    return down == Status.MUTED


def release_dependents(parent: Site) -> list[int]:
    """The parent is back: its dependents still down get their muted down alert back.

    Their outage was not the parent's after all, so it must not go unannounced:
    the muted transition is pending again, to be decided afresh (the parent
    being up, it goes out). Returns the released transitions' ids, for the
    caller to queue.
    """
    released = []
    for child in Site.objects.filter(depends_on=parent, status=Site.Status.DOWN):
        latest = (
            Transition.objects.filter(site=child, to_status=Site.Status.DOWN)
            .order_by("-created_at", "-id")
            .first()
        )
        if (
            latest is not None
            and latest.notification_status == Status.MUTED
            and _muted_for_parent(latest)
        ):
            released.append(latest.id)
    if released:
        Transition.objects.filter(id__in=released, notification_status=Status.MUTED).update(
            notification_status=Status.PENDING, notify_lease_until=None
        )
    return released


def _muted_for_parent(transition: Transition) -> bool:
    last = transition.attempts.order_by("-id").values_list("error", flat=True).first()
    return bool(last and last.startswith(PARENT_DOWN))
