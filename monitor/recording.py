"""Recording: store a batch of probe results and the transitions they cause.

One short transaction per batch, never with network I/O inside it (the probes
have already finished). Each affected site row is locked first, so two
workers recording results for the same site queue behind each other and the
second sees the first's status: a status change yields exactly one Transition.

The rule (apply_result) is written once; how rows move differs by database.
On PostgreSQL a batch costs a handful of statements whatever its size: the
site rows are locked and read as tuples, checks go in with COPY, and the new
site state goes back in one UPDATE … FROM unnest(…). SQLite goes through the
ORM (bulk_create, bulk_update).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from psycopg.types.datetime import TimestamptzLoader

from monitor import located
from monitor.history import add_to_rollups
from monitor.locations import SELECT_EVERY_LOCATION, every_location
from monitor.models import (
    CHECK_COLUMNS,
    DEFAULT_LOCATION_ID,
    Check,
    Location,
    MonitoringGap,
    Transition,
)
from monitor.pgarrays import array_literal, int_array_literal
from monitor.pgindex import execute_by_index
from monitor.probe import ProbeResult
from monitor.signals import site_status_changed, transitions_committed
from sites.models import Site

log = logging.getLogger(__name__)

STATE_FIELDS = [
    "status",
    "last_checked_at",
    "status_changed_at",
    "last_status_code",
    "last_response_ms",
    "last_error_kind",
    "last_error_message",
    "failures_in_a_row",
    "successes_in_a_row",
    "cert_expires_at",
    "next_check_at",
]
CLAIM_FIELDS = ["claim_expires_at", "claimed_at"]


@dataclass(slots=True)
class SiteState:
    """The part of a site's row that recording reads and writes."""

    id: int
    status: str
    last_checked_at: datetime | None
    status_changed_at: datetime | None
    claimed_at: datetime | None = None
    failures_in_a_row: int = 0
    successes_in_a_row: int = 0
    failure_threshold: int = 1
    success_threshold: int = 1
    interval: int = 60
    retry_interval: int = 20
    timeout: int = 10
    next_check_at: datetime | None = None
    cert_expires_at: datetime | None = None
    resumed_at: datetime | None = None
    kind: str = "http"
    quorum: int | None = None
    last_result: ProbeResult | None = None
    gap: tuple[datetime, datetime] | None = None


# The columns lock_states reads, in SiteState's order.
STATE_COLUMNS = (
    "id, status, last_checked_at, status_changed_at, claimed_at, failures_in_a_row, "
    "successes_in_a_row, failure_threshold, success_threshold, interval, retry_interval, "
    "timeout, next_check_at, cert_expires_at, resumed_at, kind, quorum"
)


def record_results(
    results: list[ProbeResult], *, claim: datetime | None = None
) -> list[Transition]:
    """Store checks, update site state and create transitions for a batch.

    With a dispatcher's `claim`, a result is kept only if its site still holds
    that claim, which recording then clears: each claimed check is recorded
    once, however often its task runs. Without one (a check on demand), every
    result is kept and claims are left alone.
    """
    results = sorted((r for r in results if r.site_id is not None), key=lambda r: r.checked_at)
    refused = [r for r in results if r.refused_here]
    if refused:
        # A process started with other settings than the services (say
        # UPTIME_ALLOW_PRIVATE_TARGETS off) must not mark a site down and
        # alert: the site was never asked.
        _skip_refused(refused, claim=claim)
        results = [r for r in results if not r.refused_here]
    if not results:
        return []
    store = _PostgresStore() if connection.vendor == "postgresql" else _OrmStore()
    with transaction.atomic():
        # Locked in id order: concurrent recorders of overlapping batches
        # cannot deadlock. (SQLite has no row locks; there the IMMEDIATE
        # transaction serialises writers instead.)
        states = store.lock_states({r.site_id for r in results})
        # Sites checked from several locations keep a claim per location
        # (monitor.located); the others are owed a result only while they
        # hold this claim.
        several = located.plan(set(states), store.locations) if states else None
        if claim is not None:
            states = {
                i: s for i, s in states.items() if s.claimed_at == claim or i in several.several
            }
        kept = [r for r in results if r.site_id in states]  # a site deleted or re-claimed
        if len(kept) < len(results):
            log.info("dropped %d result(s) not (or no longer) owed", len(results) - len(kept))
        causes = []  # (result, from_status, to_status) for each transition
        extras = []  # the fields a transition decided by several locations adds
        from_one = [r for r in kept if several is None or r.site_id not in several.several]
        for result in from_one:
            change = apply_result(states[result.site_id], result)
            if change is not None:
                causes.append((result, *change))
                extras.append(_seen_from(result, several))
        if len(from_one) < len(kept):
            from_several, decided = located.record(
                [r for r in kept if r.site_id in several.several], states, several, claim=claim
            )
            kept = from_one + from_several
            for result, old, new, extra in decided:
                causes.append((result, old, new))
                extras.append(extra)
        transitions = store.insert_checks(kept, causes)
        for transition, extra in zip(transitions, extras, strict=True):
            for field, value in extra.items():
                setattr(transition, field, value)
        # Hours only: the hourly upkeep sums each closed day (roll_up_days).
        add_to_rollups([(r.site_id, r.checked_at, r.up, r.response_ms) for r in kept], days=False)
        moved = [s for s in states.values() if s.last_result is not None]
        store.save_states(moved, release_claims=claim is not None)
        # Most batches have neither, and an empty bulk_create still costs
        # the ORM's set-up.
        if gaps := [
            MonitoringGap(site_id=s.id, started_at=s.gap[0], ended_at=s.gap[1])
            for s in moved
            if s.gap is not None
        ]:
            MonitoringGap.objects.bulk_create(gaps)
        if transitions:
            Transition.objects.bulk_create(transitions)
            transaction.on_commit(lambda: announce(transitions))
    return transitions


def _seen_from(result: ProbeResult, plan: "located.Plan | None") -> dict:
    """A transition from one remote location names it (the central side goes unnamed)."""
    if result.up or plan is None or result.location_id not in plan.locations:
        return {}
    if result.location_id == DEFAULT_LOCATION_ID:
        return {}
    return {"locations": plan.locations[result.location_id].name}


def _skip_refused(refused: list[ProbeResult], *, claim: datetime | None) -> None:
    """Record nothing for results this process's address guard refused; give
    back their claim, so the site is claimed again at its next due time."""
    for result in refused:
        log.warning("site %s not checked: %s", result.site_id, result.error_message)
    if claim is not None:
        # Only while the site still holds this claim: a newer claim is not ours.
        Site.objects.filter(id__in=[r.site_id for r in refused], claimed_at=claim).update(
            claimed_at=None, claim_expires_at=None
        )


def apply_result(state: SiteState, result: ProbeResult) -> tuple[str, str] | None:
    """Move a (locked) site's state on by one result; return (from, to) if that
    is a transition.

    Confirmation: a site goes down after failure_threshold failures in a row
    and comes back after success_threshold successes in a row; until then it
    keeps its state and its next check comes after retry_interval. Between up
    and degraded (a success with a warning) there is nothing to confirm.

    As in the seed, a site with no history counts as up: its first confirmed
    failure is a transition to down, its first success is not a transition.
    """
    if state.last_checked_at is not None and result.checked_at < state.last_checked_at:
        return None  # a newer check has already set the state; this one is history
    state.gap = gap_before(state, result.checked_at)
    state.last_checked_at = result.checked_at
    state.last_result = result
    if result.cert_expires_at is not None:
        state.cert_expires_at = result.cert_expires_at
    if result.up:
        state.successes_in_a_row += 1
        state.failures_in_a_row = 0
        seen = Site.Status.DEGRADED if result.degraded else Site.Status.UP
        confirmed = (
            state.status != Site.Status.DOWN or state.successes_in_a_row >= state.success_threshold
        )
    else:
        state.failures_in_a_row += 1
        state.successes_in_a_row = 0
        seen = Site.Status.DOWN
        confirmed = state.failures_in_a_row >= state.failure_threshold
    old_status = state.status
    if seen == old_status:
        return None
    if not confirmed:
        _retry_soon(state, result.checked_at)
        return None
    state.status = seen
    state.status_changed_at = result.checked_at
    assumed_before = Site.Status.UP if old_status == Site.Status.UNKNOWN else old_status
    if seen == assumed_before:
        return None
    return old_status, seen


def _retry_soon(state: SiteState, checked_at: datetime) -> None:
    """An unconfirmed change: check again after the retry interval, not a whole interval.

    Not for a monitor nobody checks (a heartbeat: next_check_at stays empty).
    """
    if state.next_check_at is None:
        return
    retry_at = checked_at + timedelta(seconds=min(state.retry_interval, state.interval))
    if state.next_check_at is None or retry_at < state.next_check_at:
        state.next_check_at = retry_at


def gap_before(state: SiteState, checked_at: datetime) -> tuple[datetime, datetime] | None:
    """The stretch before this check when the site went unchecked, if any.

    A check is late by more than the engine's own slack (another interval,
    the timeout and the claim's grace) only when Uptime was not checking; the
    stretch from when the missed check was due is recorded as a gap. Time
    before a resume is a pause, not a gap. A heartbeat's silence is its own
    failure (monitor.heartbeat), never a gap.
    """
    previous = state.last_checked_at
    if previous is None or state.kind == "heartbeat":
        return None
    if state.resumed_at is not None and state.resumed_at > previous:
        return None
    interval = timedelta(seconds=state.interval)
    slack = interval + timedelta(seconds=state.timeout + settings.UPTIME_CLAIM_GRACE)
    due = previous + interval
    if checked_at - due <= slack:
        return None
    return due, checked_at


def announce(transitions: list[Transition]) -> None:
    """Send site_status_changed for each committed transition, then transitions_committed."""
    for transition in transitions:
        log.info(
            "%s is %s%s",
            transition.site.url,
            transition.to_status,
            f": {transition.check_result.reason}" if transition.is_down else "",
        )
        responses = site_status_changed.send_robust(
            sender=Transition, transition=transition, site=transition.site
        )
        for receiver, response in responses:
            if isinstance(response, Exception):
                # The transition row is committed; the sweeper delivers it later.
                log.error(
                    "site_status_changed receiver %s failed for transition %s: %s",
                    getattr(receiver, "__qualname__", receiver),
                    transition.id,
                    response,
                )
    if not transitions:
        return
    for receiver, response in transitions_committed.send_robust(
        sender=Transition, transitions=transitions
    ):
        if isinstance(response, Exception):
            # The transition rows are committed; the sweeper delivers them later.
            log.error(
                "transitions_committed receiver %s failed: %s",
                getattr(receiver, "__qualname__", receiver),
                response,
            )


def _check_row(result: ProbeResult) -> tuple:
    """A check's values, in CHECK_COLUMNS order."""
    return (
        result.site_id,
        result.checked_at,
        result.up,
        result.status_code,
        result.response_ms,
        result.error_kind,
        result.error_message,
        result.location_id,
    )


def _check_from(result: ProbeResult) -> Check:
    return Check(**dict(zip(CHECK_COLUMNS, _check_row(result), strict=True)))


def _transitions_for(causes, checks: list[Check], sites: dict[int, Site]) -> list[Transition]:
    return [
        Transition(
            site=sites[result.site_id],
            check_result=check,
            from_status=from_status,
            to_status=to_status,
            created_at=result.checked_at,
        )
        for (result, from_status, to_status), check in zip(causes, checks, strict=True)
    ]


class _OrmStore:
    locations = None  # located.plan reads them itself

    def lock_states(self, site_ids: set[int]) -> dict[int, SiteState]:
        self.sites = {
            site.id: site
            for site in Site.objects.select_for_update().filter(id__in=site_ids).order_by("id")
        }
        names = [name.strip() for name in STATE_COLUMNS.split(",")]
        return {
            site.id: SiteState(*(getattr(site, name) for name in names))
            for site in self.sites.values()
        }

    def insert_checks(self, results: list[ProbeResult], causes) -> list[Transition]:
        checks = Check.objects.bulk_create(_check_from(r) for r in results)
        by_result = {id(r): c for r, c in zip(results, checks, strict=True)}
        return _transitions_for(causes, [by_result[id(c[0])] for c in causes], self.sites)

    def save_states(self, states: list[SiteState], *, release_claims: bool) -> None:
        for state in states:
            site, result = self.sites[state.id], state.last_result
            site.status = state.status
            site.last_checked_at = state.last_checked_at
            site.status_changed_at = state.status_changed_at
            site.last_status_code = result.status_code
            site.last_response_ms = result.response_ms
            site.last_error_kind = result.error_kind
            site.last_error_message = result.error_message
            site.failures_in_a_row = state.failures_in_a_row
            site.successes_in_a_row = state.successes_in_a_row
            site.cert_expires_at = state.cert_expires_at
            site.next_check_at = state.next_check_at
            site.claim_expires_at = site.claimed_at = None
        fields = STATE_FIELDS + CLAIM_FIELDS if release_claims else STATE_FIELDS
        Site.objects.bulk_update([self.sites[s.id] for s in states], fields)


_LOCK_SQL = f"""
SELECT {STATE_COLUMNS}
FROM sites_site WHERE id = ANY(%s) ORDER BY id FOR UPDATE
"""  # noqa: S608 - constant column names
_SAVE_STATES_SQL = """
UPDATE sites_site AS s SET
    status = v.status,
    last_checked_at = v.last_checked_at,
    status_changed_at = v.status_changed_at,
    last_status_code = v.status_code,
    last_response_ms = v.response_ms,
    last_error_kind = v.error_kind,
    last_error_message = v.error_message,
    failures_in_a_row = v.failures_in_a_row,
    successes_in_a_row = v.successes_in_a_row,
    cert_expires_at = v.cert_expires_at,
    next_check_at = v.next_check_at,
    claim_expires_at = CASE WHEN %s THEN NULL ELSE s.claim_expires_at END,
    claimed_at = CASE WHEN %s THEN NULL ELSE s.claimed_at END
FROM unnest(
    %s::bigint[], %s::varchar[], %s::timestamptz[], %s::timestamptz[],
    %s::integer[], %s::integer[], %s::varchar[], %s::varchar[],
    %s::integer[], %s::integer[], %s::timestamptz[], %s::timestamptz[]
) AS v(id, status, last_checked_at, status_changed_at,
       status_code, response_ms, error_kind, error_message,
       failures_in_a_row, successes_in_a_row, cert_expires_at, next_check_at)
WHERE s.id = v.id
"""


class _PostgresStore:
    locations: dict[int, Location] | None = None

    def lock_states(self, site_ids: set[int]) -> dict[int, SiteState]:
        with connection.cursor() as cursor:
            # psycopg's own timestamptz loader, which is C: Django's is a
            # Python subclass of it (to set the time zone afterwards), so
            # each of a batch's ~300 timestamps was parsed in Python. The
            # session's time zone is UTC (USE_TZ), so psycopg's are aware
            # and in UTC already, as Django's are.
            cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
            # By primary key, here and in save_states (monitor.pgindex); the
            # locations (for located.plan) in the same round trip.
            execute_by_index(cursor, SELECT_EVERY_LOCATION + _LOCK_SQL, [sorted(site_ids)])
            self.locations = every_location(cursor.fetchall())
            cursor.nextset()
            return {row[0]: SiteState(*row) for row in cursor.fetchall()}

    def insert_checks(self, results: list[ProbeResult], causes) -> list[Transition]:
        # COPY, the fastest path there is. A transition keeps its check's
        # facts, not a reference to the row, so none needs reading back.
        with connection.cursor() as cursor:
            copy_sql = f"COPY monitor_check ({', '.join(CHECK_COLUMNS)}) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for r in results:
                    copy.write_row(_check_row(r))
        if not causes:
            return []
        sites = Site.objects.in_bulk({c[0].site_id for c in causes})
        return _transitions_for(causes, [_check_from(c[0]) for c in causes], sites)

    def save_states(self, states: list[SiteState], *, release_claims: bool) -> None:
        if not states:
            return
        columns = list(
            zip(
                *(
                    (
                        s.id,
                        s.status,
                        s.last_checked_at,
                        s.status_changed_at,
                        s.last_result.status_code,
                        s.last_result.response_ms,
                        s.last_result.error_kind,
                        s.last_result.error_message,
                        s.failures_in_a_row,
                        s.successes_in_a_row,
                        s.cert_expires_at,
                        s.next_check_at,
                    )
                    for s in states
                ),
                strict=True,
            )
        )
        with connection.cursor() as cursor:
            (ids, statuses, checked, changed, codes, times, kinds, messages) = columns[:8]
            failures, successes, cert_expiries, next_checks = columns[8:]
            cursor.execute(
                _SAVE_STATES_SQL,
                [
                    release_claims,
                    release_claims,
                    int_array_literal(ids),
                    array_literal(statuses),
                    array_literal(checked),
                    array_literal(changed),
                    int_array_literal(codes),
                    int_array_literal(times),
                    array_literal(kinds),
                    array_literal(messages),
                    int_array_literal(failures),
                    int_array_literal(successes),
                    array_literal(cert_expiries),
                    array_literal(next_checks),
                ],
            )
