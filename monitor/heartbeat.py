"""Heartbeats: the pings a monitored job sends, and the deadlines it misses.

A heartbeat is never probed. A ping (monitor.heartbeat_views) and a missed
deadline (evaluate_heartbeats, run by beat) each become a ProbeResult that
monitor.recording records like any check, so confirmation, transitions,
alerts and rollups work as for the other kinds. The rules are the README's
"Heartbeat (push) monitors"; in short: a deadline is the next expected time
(period, or cron in the monitor's time zone, counted from the last ping, the
creation or the resume) plus grace, or a /start plus grace; each passed
deadline is one failed check, once.

Every write to a Heartbeat row happens with its site's row locked (the order
recording and site deletion use), so a ping and the evaluator never judge one
deadline twice.
"""

import enum
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from django.db import connection, transaction
from django.utils import timezone

from monitor.errors import ErrorKind
from monitor.models import Heartbeat
from monitor.probe import MAX_MESSAGE_LENGTH, ProbeResult
from monitor.recording import record_results
from notifications.messages import format_duration
from sites.models import Site

log = logging.getLogger(__name__)

EVALUATE_BATCH = 500
# The longest run time a success after /start records (the column is an int of ms).
MAX_RUN_MS = 2**31 - 1
BEAT_FIELDS = [
    "last_ping_at",
    "started_at",
    "expected_from",
    "deadline_at",
    "schedule",
    "resumed_at",
]


class Signal(enum.StrEnum):
    """What a ping says: /ping/<token>, /ping/<token>/start, /ping/<token>/fail."""

    SUCCESS = "success"
    START = "start"
    FAIL = "fail"


class Outcome(enum.Enum):
    RECORDED = "recorded"
    PAUSED = "paused"
    UNKNOWN = "unknown"


# --- the schedule ------------------------------------------------------------------


def next_expected(options: dict, after: datetime) -> datetime:
    """When the next ping is due after `after` (a ping, the start, a missed time)."""
    if options.get("period"):
        return after + timedelta(seconds=options["period"])
    times = croniter(options["cron"], after.astimezone(ZoneInfo(options["timezone"])))
    for _ in range(3):
        expected = times.get_next(datetime)
        if not _repeated(expected):
            break
    return expected.astimezone(UTC)


def _repeated(local: datetime) -> bool:
    """The second pass of a wall-clock time that a DST change repeats: cron
    does not run a job at a fixed time twice, so that pass expects no ping."""
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def latest_missed(options: dict, expected_from: datetime, now: datetime) -> datetime | None:
    """The latest expected time after `expected_from` whose grace is over by `now`."""
    grace = timedelta(seconds=options["grace"])
    first = next_expected(options, expected_from)
    if first + grace > now:
        return None
    if options.get("period"):
        period = timedelta(seconds=options["period"])
        return first + ((now - grace - first) // period) * period
    zone = ZoneInfo(options["timezone"])
    latest = croniter(options["cron"], (now - grace).astimezone(zone)).get_prev(datetime)
    return max(first, latest.astimezone(UTC))  # get_prev is strict: now - grace may be `first`


def deadline(options: dict, expected_from: datetime, started_at: datetime | None) -> datetime:
    """When the next miss is judged: the next expected time plus grace, or
    sooner if a run has started and must end within grace."""
    grace = timedelta(seconds=options["grace"])
    due = next_expected(options, expected_from) + grace
    return min(due, started_at + grace) if started_at else due


# --- judging one heartbeat ------------------------------------------------------------


def refresh(beat: Heartbeat, site: Site) -> None:
    """Derive the deadline again if the site's options or its pause changed since."""
    if (
        beat.deadline_at is not None
        and beat.schedule == site.options
        and beat.resumed_at == site.resumed_at
    ):
        return
    base = beat.expected_from or site.created_at
    if site.resumed_at is not None and site.resumed_at != beat.resumed_at:
        base = max(base, site.resumed_at)
        beat.started_at = None  # a run begun before the pause is not judged
    beat.expected_from = base
    beat.schedule = site.options
    beat.resumed_at = site.resumed_at
    beat.deadline_at = deadline(site.options, base, beat.started_at)


def judge(beat: Heartbeat, site: Site, now: datetime) -> ProbeResult | None:
    """The deadline passed by `now` without a ping, as one failed check; the
    deadline moves on to the next one, so each is judged once."""
    refresh(beat, site)
    if beat.deadline_at > now:
        return None
    options = site.options
    grace = timedelta(seconds=options["grace"])
    missed = latest_missed(options, beat.expected_from, now)
    run_due = beat.started_at + grace if beat.started_at else None
    if run_due is not None and run_due <= now:
        message = (
            f"Started at {_when(beat.started_at, options)} and did not finish "
            f"within the grace of {_duration(options['grace'])}"
        )
        checked_at = run_due
        beat.started_at = None
    else:
        message = _missed_message(beat, site, missed)
        checked_at = missed + grace
    if missed is not None:
        beat.expected_from = missed
        checked_at = max(checked_at, missed + grace)
    beat.deadline_at = deadline(options, beat.expected_from, beat.started_at)
    return ProbeResult(
        up=False,
        checked_at=checked_at,
        error_kind=ErrorKind.MISSED,
        error_message=message[:MAX_MESSAGE_LENGTH],
        site_id=site.id,
    )


def _missed_message(beat: Heartbeat, site: Site, missed: datetime) -> str:
    options = site.options
    if options.get("period"):
        expected = f"expected every {_duration(options['period'])}"
    else:
        expected = f'expected at {_when(missed, options)} by cron "{options["cron"]}"'
    return f"{_since(beat, site)} ({expected}, grace {_duration(options['grace'])})"


def _since(beat: Heartbeat, site: Site) -> str:
    """Since when nothing came: the last ping, or the resume or creation after which none did."""
    resumed, pinged = beat.resumed_at, beat.last_ping_at
    if resumed is not None and (pinged is None or resumed > pinged):
        return f"No ping since the monitor was resumed at {_when(resumed, site.options)}"
    if pinged is not None:
        return f"No ping since {_when(pinged, site.options)}"
    return f"No ping since the monitor was created at {_when(site.created_at, site.options)}"


def _when(moment: datetime, options: dict) -> str:
    """A time as the monitor's owner reads it: in the cron's time zone, else UTC."""
    return moment.astimezone(ZoneInfo(options.get("timezone") or "UTC")).strftime(
        "%Y-%m-%d %H:%M:%S %Z"
    )


def _duration(seconds: int) -> str:
    return format_duration(timedelta(seconds=seconds))


# --- pings ----------------------------------------------------------------------------


def ping_receive(*, token: str, signal: Signal, message: str = "", now=None) -> Outcome:
    """Record a ping of the heartbeat whose ping URL holds `token`.

    A deadline that passed before this ping is recorded first, as the
    evaluator would have: a late ping does not hide a miss.
    """
    found = Site.objects.filter(ping_token=token, kind="heartbeat").values_list("id", flat=True)
    site_id = found.first()
    if site_id is None:
        return Outcome.UNKNOWN
    now = now or timezone.now()
    with transaction.atomic():
        site = Site.objects.select_for_update().filter(id=site_id, kind="heartbeat").first()
        if site is None:
            return Outcome.UNKNOWN
        if not site.enabled:
            return Outcome.PAUSED
        beat = Heartbeat.objects.filter(site=site).first() or Heartbeat(site=site)
        missed = judge(beat, site, now)
        ping = _apply_signal(beat, site, signal, message, now)
        beat.save()
        record_results([r for r in (missed, ping) if r is not None])
    return Outcome.RECORDED


def _apply_signal(
    beat: Heartbeat, site: Site, signal: Signal, message: str, now: datetime
) -> ProbeResult | None:
    """Move the heartbeat on by one ping; the check it records, if any (/start records none)."""
    if signal == Signal.START:
        beat.started_at = now
        beat.deadline_at = deadline(site.options, beat.expected_from, now)
        return None
    run_ms = _run_ms(beat.started_at, now)
    beat.started_at = None
    beat.last_ping_at = beat.expected_from = now
    beat.deadline_at = deadline(site.options, now, None)
    if signal == Signal.SUCCESS:
        return ProbeResult(up=True, checked_at=now, response_ms=run_ms, site_id=site.id)
    text = f"The job reported a failure: {message}" if message else "The job reported a failure"
    return ProbeResult(
        up=False,
        checked_at=now,
        response_ms=run_ms,
        error_kind=ErrorKind.JOB_FAILED,
        error_message=text[:MAX_MESSAGE_LENGTH],
        site_id=site.id,
    )


def _run_ms(started_at: datetime | None, now: datetime) -> int | None:
    if started_at is None or started_at > now:
        return None
    return min(round((now - started_at).total_seconds() * 1000), MAX_RUN_MS)


# --- the evaluator ---------------------------------------------------------------------

# Enabled heartbeats whose deadline has passed, or whose deadline must be
# derived again: no row yet (a new monitor), options edited, resumed. One
# pass over the heartbeat monitors, joined on the primary key.
_DUE_SQL = """
SELECT s.id FROM sites_site s LEFT JOIN monitor_heartbeat h ON h.site_id = s.id
WHERE s.kind = 'heartbeat' AND s.enabled
  AND (h.site_id IS NULL OR h.deadline_at IS NULL OR h.deadline_at <= %s
       OR h.schedule IS DISTINCT FROM s.options
       OR h.resumed_at IS DISTINCT FROM s.resumed_at)
ORDER BY s.id
"""


def evaluate_heartbeats(now: datetime | None = None) -> int:
    """Record every heartbeat deadline passed by `now` without a ping, once.

    Returns how many misses were recorded. Heartbeats a ping is recording
    right now are skipped (SKIP LOCKED); the ping has judged them.
    """
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_DUE_SQL, [connection.ops.adapt_datetimefield_value(now)])
        due = [row[0] for row in cursor.fetchall()]
    recorded = 0
    for start in range(0, len(due), EVALUATE_BATCH):
        recorded += _evaluate_batch(due[start : start + EVALUATE_BATCH], now)
    if recorded:
        log.info("recorded %d missed heartbeat(s)", recorded)
    return recorded


def _evaluate_batch(site_ids: list[int], now: datetime) -> int:
    with transaction.atomic():
        sites = list(
            Site.objects.select_for_update(skip_locked=True)
            .filter(id__in=site_ids, kind="heartbeat", enabled=True)
            .order_by("id")
        )
        beats = Heartbeat.objects.in_bulk([site.id for site in sites])
        new = []
        results = []
        for site in sites:
            beat = beats.get(site.id)
            if beat is None:
                beat = Heartbeat(site=site)
                new.append(beat)
            result = judge(beat, site, now)
            if result is not None:
                results.append(result)
        Heartbeat.objects.bulk_create(new)
        Heartbeat.objects.bulk_update(list(beats.values()), BEAT_FIELDS)
        record_results(results)
    return len(results)
