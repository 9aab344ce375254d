"""Telling Uptime's own network failure apart from its sites' failures.

When the machine Uptime runs on loses its network, every site fails at once,
and one alert per site would bury the one fact that matters. The rule:

- Only network-level failures count (NETWORK_ERROR_KINDS: DNS, connection
  refused/reset/unreachable, timeout, TLS handshake). An HTTP error status, a
  redirect loop or a malformed answer means the network worked, so alerts for
  those always go out as usual.
- A down alert caused by a network-level failure at time t0 is held for
  UPTIME_OUTAGE_SETTLE seconds, plus the failed check's own duration (a check
  is recorded when it ends, so a timed-out one, and those like it, arrive that
  much later). Then the checks of every site in the window
  [t0 - a little, t0 + settle] are counted: if at least UPTIME_OUTAGE_MIN_SITES
  distinct sites failed at the network level there, and they are at least
  UPTIME_OUTAGE_PERCENT % of the sites checked there, it is Uptime's own
  network. A ConnectivityIncident is opened (or joined: one is open at most)
  and the alert is withheld; the incident's one message says so.
- While an incident is open, every network-level down alert is withheld at
  once, and a "back up" alert whose "down" was withheld is withheld too.
- The sweeper reviews the open incident: once the last settle period's checks
  show less than UPTIME_OUTAGE_PERCENT % failing at the network level, it is
  recovering; once every withheld site has been checked again after that, it
  ends. The down alerts of sites still down are then released (pending again,
  so they go out as usual) and one "network is back" message names how many.
  A relapse while recovering puts it back to open.

With fewer than UPTIME_OUTAGE_MIN_SITES enabled sites the rule cannot fire,
so nothing is held.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from monitor.models import Check, ConnectivityIncident, Transition
from monitor.probe import ErrorKind
from sites.models import Site

NETWORK_ERROR_KINDS = frozenset(
    {ErrorKind.DNS, ErrorKind.CONNECT, ErrorKind.TIMEOUT, ErrorKind.TLS}
)
# The window reaches back this far before t0 (at most a fifth of the settle
# period): the probes of one batch start within milliseconds of each other, and
# the first failure of a batch must still see its siblings.
MAX_LOOKBACK = timedelta(seconds=2)
# An up alert whose down alert is still held waits for that decision plus this.
UP_AFTER_DOWN = timedelta(seconds=2)
# Reviewing an open incident needs a window even when the rule is turned off.
MIN_REVIEW_WINDOW = timedelta(seconds=5)

Status = Transition.NotificationStatus

DELIVER = "deliver"
HOLD = "hold"
WITHHOLD = "withhold"


@dataclass(frozen=True)
class Reach:
    """How many distinct sites were checked in a window, and how many of them
    failed at the network level."""

    checked: int
    unreachable: int

    @property
    def share(self) -> float:
        return self.unreachable / self.checked if self.checked else 0.0

    @property
    def mostly_unreachable(self) -> bool:
        return self.checked > 0 and self.share * 100 >= settings.UPTIME_OUTAGE_PERCENT

    @property
    def is_outage(self) -> bool:
        return self.unreachable >= settings.UPTIME_OUTAGE_MIN_SITES and self.mostly_unreachable


@dataclass(frozen=True)
class Verdict:
    """What to do with a transition's alert now: deliver it, hold it until
    `until`, or withhold it (on account of `incident`, if one is named)."""

    action: str
    until: datetime | None = None
    incident: ConnectivityIncident | None = None


def settle_period() -> timedelta:
    return timedelta(seconds=settings.UPTIME_OUTAGE_SETTLE)


def is_network_failure(check: Check | None) -> bool:
    return check is not None and not check.up and check.error_kind in NETWORK_ERROR_KINDS


def measure_reach(start: datetime, end: datetime) -> Reach:
    """Count the sites checked in [start, end] and those that failed at the network level.

    One range scan of the checked_at index (BRIN on PostgreSQL, b-tree on SQLite).
    """
    counts = Check.objects.filter(checked_at__gte=start, checked_at__lte=end).aggregate(
        checked=Count("site_id", distinct=True),
        unreachable=Count(
            "site_id",
            distinct=True,
            filter=Q(up=False, error_kind__in=NETWORK_ERROR_KINDS),
        ),
    )
    return Reach(checked=counts["checked"], unreachable=counts["unreachable"])


def open_incident() -> ConnectivityIncident | None:
    return ConnectivityIncident.objects.filter(is_open=True).first()


def judge_transition(transition: Transition, *, now: datetime) -> Verdict:
    """Decide whether a pending transition's alert goes out now, waits, or is withheld."""
    if transition.is_down:
        return _judge_down(transition, now)
    return _judge_up(transition, now)


def _judge_down(transition: Transition, now: datetime) -> Verdict:
    check = transition.check_result
    if settings.UPTIME_OUTAGE_SETTLE <= 0 or not is_network_failure(check):
        return Verdict(DELIVER)
    incident = open_incident()
    if incident is not None:
        return Verdict(WITHHOLD, incident=incident)
    if not _enough_sites_for_an_outage():
        return Verdict(DELIVER)
    decide_at = _decision_time(transition, check)
    if now < decide_at:
        return Verdict(HOLD, until=decide_at)
    incident = open_incident()  # another alert's decision may have opened one meanwhile
    if incident is not None:
        return Verdict(WITHHOLD, incident=incident)
    if _covered_by_ended_incident(transition.created_at):
        # Released when the incident ended (its site was still down), or
        # decided late: it goes out only if the site has not recovered since.
        return Verdict(DELIVER if _is_latest(transition) else WITHHOLD)
    t0, settle = transition.created_at, settle_period()
    reach = measure_reach(t0 - min(MAX_LOOKBACK, settle / 5), t0 + settle)
    if not reach.is_outage:
        return Verdict(DELIVER)
    return Verdict(WITHHOLD, incident=incident_open_or_join(started_at=t0, reach=reach))


def _judge_up(transition: Transition, now: datetime) -> Verdict:
    down = (
        Transition.objects.filter(
            site_id=transition.site_id,
            to_status=Site.Status.DOWN,
            created_at__lte=transition.created_at,
        )
        .exclude(id=transition.id)
        .order_by("-created_at", "-id")
        .first()
    )
    if down is None:
        return Verdict(DELIVER)
    if down.notification_status == Status.WITHHELD:
        # No "back up" for a "down" that was never announced.
        return Verdict(WITHHOLD)
    if (
        down.notification_status == Status.PENDING
        and settings.UPTIME_OUTAGE_SETTLE > 0
        and is_network_failure(down.check_result)
    ):
        # Its "down" may still be held: wait for that decision, so "back up"
        # never arrives before (or instead of a withheld) "down".
        wait_until = _decision_time(down, down.check_result) + UP_AFTER_DOWN
        if now < wait_until:
            return Verdict(HOLD, until=wait_until)
    return Verdict(DELIVER)


def _decision_time(transition: Transition, check: Check) -> datetime:
    # A check is recorded when it ends; the window's other checks that failed
    # the same way (a timeout, say) take about as long to arrive.
    return transition.created_at + settle_period() + timedelta(milliseconds=check.response_ms or 0)


def _enough_sites_for_an_outage() -> bool:
    needed = settings.UPTIME_OUTAGE_MIN_SITES
    # LIMIT keeps this cheap with 100,000 sites.
    return Site.objects.filter(enabled=True).values("id")[:needed].count() >= needed


def _covered_by_ended_incident(moment: datetime) -> bool:
    settle = settle_period()
    return ConnectivityIncident.objects.filter(
        is_open=False, started_at__lte=moment + settle, ended_at__gte=moment
    ).exists()


def _is_latest(transition: Transition) -> bool:
    return not (
        Transition.objects.filter(site_id=transition.site_id, created_at__gte=transition.created_at)
        .exclude(id=transition.id)
        .filter(Q(created_at__gt=transition.created_at) | Q(id__gt=transition.id))
        .exists()
    )


def incident_open_or_join(*, started_at: datetime, reach: Reach) -> ConnectivityIncident:
    """The open incident, opened now if there is none."""
    for _ in range(3):
        incident = open_incident()
        if incident is not None:
            return incident
        try:
            # A savepoint, so losing the race does not break a caller's transaction.
            with transaction.atomic():
                return ConnectivityIncident.objects.create(
                    started_at=started_at,
                    sites_unreachable=reach.unreachable,
                    sites_checked=reach.checked,
                )
        except IntegrityError:
            continue  # another worker opened one just now (connectivity_one_open_incident)
    raise RuntimeError("could neither open nor find the open connectivity incident")


# --- Ending an incident ----------------------------------------------------------


def withheld_down_alerts() -> QuerySet[Transition]:
    """Withheld down alerts of enabled sites that are still their site's latest transition.

    These are the sites still down (as far as their last check knows) whose
    "down" nobody has been told about.
    """
    later = Transition.objects.filter(
        site_id=OuterRef("site_id"), created_at__gt=OuterRef("created_at")
    )
    return Transition.objects.filter(
        notification_status=Status.WITHHELD, to_status=Site.Status.DOWN, site__enabled=True
    ).exclude(Exists(later))


def review_open_incident(*, now: datetime) -> list[int]:
    """Move the open incident on (open → recovering → ended) from the latest checks.

    Returns the ids of the down alerts released when it ended with this call
    (none otherwise). Every change is a conditional UPDATE, so two sweepers
    reviewing at once change it once.
    """
    incident = open_incident()
    if incident is None:
        return []
    reach = measure_reach(now - max(settle_period(), MIN_REVIEW_WINDOW), now)
    if reach.mostly_unreachable:
        if incident.recovered_at is not None and reach.is_outage:
            # A relapse while recovering: open again.
            ConnectivityIncident.objects.filter(id=incident.id, is_open=True).update(
                recovered_at=None
            )
        return []
    if incident.recovered_at is None:
        if reach.checked == 0:
            return []  # nothing was checked lately: no evidence either way
        # Recovering. Checks that started after now are surely after recovery;
        # a site last checked before may still show the outage's failure.
        ConnectivityIncident.objects.filter(
            id=incident.id, is_open=True, recovered_at__isnull=True
        ).update(recovered_at=now)
        return []
    waiting = withheld_down_alerts().filter(site__last_checked_at__lte=incident.recovered_at)
    if waiting.exists():
        return []  # some withheld site has not been checked since recovery
    return _end_incident(incident, now=now)


def _end_incident(incident: ConnectivityIncident, *, now: datetime) -> list[int]:
    with transaction.atomic():
        ended = ConnectivityIncident.objects.filter(
            id=incident.id, is_open=True, recovered_at=incident.recovered_at
        ).update(is_open=False, ended_at=now, ended_notice=Status.PENDING)
        if not ended:
            return []  # another sweeper ended it, or it relapsed meanwhile
        released = list(withheld_down_alerts().values_list("id", flat=True))
        Transition.objects.filter(id__in=released, notification_status=Status.WITHHELD).update(
            notification_status=Status.PENDING, notify_lease_until=None
        )
        ConnectivityIncident.objects.filter(id=incident.id).update(sites_still_down=len(released))
    return released
