"""History: hourly and daily rollups of checks, and pruning of old rows.

Hourly rollups are summed as checks are recorded (add_to_rollups runs
inside the recorder's transaction), so charts never scan checks, and checks
can be pruned after UPTIME_CHECK_RETENTION_DAYS. A day's rollup is summed
from its hours once the day has closed (roll_up_days, hourly): keeping it
up to date with every check cost the recorder a second upsert per check.
The charts add up the current day from its hours (day_rollups).

Percentiles come from a fixed histogram of response times per rollup row
(RESPONSE_BUCKET_EDGES_MS: 16 ms times √2 per bucket). The estimate lies in
the same bucket as the true value, narrowed to [rt_min, rt_max], so from
16 ms up it is within P95_MAX_RELATIVE_ERROR (20 %) of the true nearest-rank
percentile, and below 16 ms within 8 ms of it.
"""

import bisect
import itertools
import json
import math
import sqlite3
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection, models, transaction
from django.db.models.fields.reverse_related import ForeignObjectRel

from monitor.models import (
    HISTOGRAM_COLUMNS,
    RESPONSE_BUCKET_EDGES_MS,
    RESPONSE_BUCKETS,
    Check,
    CheckBlock,
    CheckRollup,
)
from monitor.packing import packed_checks
from monitor.pgarrays import array_literal, int_array_literal

Row = tuple[int, datetime, bool, int | None]  # (site_id, checked_at, up, response_ms)

SMALLINT_MAX = 32_767
# Bucket i (1 ≤ i) spans [lo, hi) with hi/lo ≤ 1.4375; the estimate is the
# geometric middle of what is left of it, so off by at most √1.4375 - 1.
P95_MAX_RELATIVE_ERROR = max(
    (hi / lo) ** 0.5 - 1 for lo, hi in itertools.pairwise(RESPONSE_BUCKET_EDGES_MS)
)
P95_MAX_ABSOLUTE_ERROR_LOW_MS = RESPONSE_BUCKET_EDGES_MS[0] / 2
_ROWS_PER_STATEMENT = 1000


def response_bucket(response_ms: int) -> int:
    """The histogram bucket a response time falls in."""
    return bisect.bisect_right(RESPONSE_BUCKET_EDGES_MS, response_ms)


def estimate_percentile(
    histogram: list[int], fraction: float, *, low: int | None, high: int | None
) -> float | None:
    """Estimate the nearest-rank percentile from bucket counts and the exact min/max."""
    total = sum(histogram)
    if not total or low is None or high is None:
        return None
    # Rounded first: 0.95 * 20 must be rank 19, not 19.000000000000004 → 20.
    rank = max(1, math.ceil(round(fraction * total, 9)))
    cumulative = itertools.accumulate(histogram)
    index = next(i for i, seen in enumerate(cumulative) if seen >= rank)
    lo = max(RESPONSE_BUCKET_EDGES_MS[index - 1] if index else 0, low)
    top = min(RESPONSE_BUCKET_EDGES_MS[index] - 1 if index < len(histogram) - 1 else high, high)
    if index == 0:
        return (lo + top) / 2
    return (lo * top) ** 0.5


# --- maintaining rollups ------------------------------------------------------------


class _Totals:
    __slots__ = ("checks", "failures", "histogram", "rt_count", "rt_max", "rt_min", "rt_sum")

    def __init__(self) -> None:
        self.checks = self.failures = self.rt_count = self.rt_sum = 0
        self.rt_min: int | None = None
        self.rt_max: int | None = None
        self.histogram = [0] * RESPONSE_BUCKETS

    def add(self, up: bool, response_ms: int | None) -> None:
        self.checks += 1
        self.failures += not up
        if response_ms is None:
            return
        self.rt_count += 1
        self.rt_sum += response_ms
        self.rt_min = response_ms if self.rt_min is None else min(self.rt_min, response_ms)
        self.rt_max = response_ms if self.rt_max is None else max(self.rt_max, response_ms)
        self.histogram[response_bucket(response_ms)] += 1


def add_to_rollups(rows: Iterable[Row], *, days: bool = True) -> int:
    """Add a batch of checks to their sites' hourly rollups, and daily ones
    unless `days` is False (the recorder: roll_up_days sums closed days).

    Summed in Python first, then written with one INSERT … ON CONFLICT DO
    UPDATE (on SQLite, one per 900 rollup rows), so it is cheap enough for
    the recorder's transaction. Returns how many rollup rows were touched.
    """
    totals: dict[tuple[int, int, datetime], _Totals] = {}
    for site_id, checked_at, up, response_ms in rows:
        hour = checked_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        keys = [(site_id, CheckRollup.Period.HOUR, hour)]
        if days:
            keys.append((site_id, CheckRollup.Period.DAY, hour.replace(hour=0)))
        for key in keys:
            if (bucket := totals.get(key)) is None:
                bucket = totals[key] = _Totals()
            bucket.add(up, response_ms)
    if not totals:
        return 0
    adapt = connection.ops.adapt_datetimefield_value
    values = [
        (
            site_id,
            int(period),
            adapt(start),
            t.checks,
            t.failures,
            t.rt_count,
            t.rt_sum,
            t.rt_min,
            t.rt_max,
            *(min(count, SMALLINT_MAX) for count in t.histogram),
        )
        # Sorted: concurrent recorders touch shared rows in the same order.
        for (site_id, period, start), t in sorted(totals.items(), key=lambda item: item[0])
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array per column: a VALUES list would be ~34,000 parameters
            # for psycopg to splice in, ten times slower than the statement.
            # bucket_start (the third column) is the only one that is not an integer.
            columns = list(zip(*values, strict=True))
            literals = [int_array_literal(c) for c in columns]
            literals[2] = array_literal(columns[2])
            cursor.execute(_upsert_sql(_UNNEST_SQL), literals)
            return len(values)
        per_statement = min(_ROWS_PER_STATEMENT, _sqlite_max_params() // len(_UPSERT_COLUMNS))
        for first in range(0, len(values), per_statement):
            chunk = values[first : first + per_statement]
            placeholders = f"({', '.join(['%s'] * len(_UPSERT_COLUMNS))})"
            cursor.execute(
                _upsert_sql(f"VALUES {', '.join([placeholders] * len(chunk))}"),
                [value for row in chunk for value in row],
            )
    return len(values)


_UPSERT_COLUMNS = (
    "site_id",
    "period",
    "bucket_start",
    "checks",
    "failures",
    "rt_count",
    "rt_sum",
    "rt_min",
    "rt_max",
    *HISTOGRAM_COLUMNS,
)
_UNNEST_SQL = "SELECT * FROM unnest({})".format(  # noqa: S608 - only type names
    ", ".join(
        ["%s::bigint[]", "%s::smallint[]", "%s::timestamptz[]"]
        + ["%s::integer[]"] * 3
        + ["%s::bigint[]"]
        + ["%s::integer[]"] * 2
        + ["%s::smallint[]"] * len(HISTOGRAM_COLUMNS)
    )
)


def _upsert_sql(source: str) -> str:
    q = connection.ops.quote_name
    # PostgreSQL's LEAST/GREATEST are SQLite's many-argument MIN/MAX.
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")

    def kept(column: str, pick: str) -> str:  # NULL (no response time yet) loses
        old, new = f"r.{q(column)}", f"excluded.{q(column)}"
        return f"{pick}(COALESCE({old}, {new}), COALESCE({new}, {old}))"

    sums = [
        f"{q(c)} = r.{q(c)} + excluded.{q(c)}" for c in ("checks", "failures", "rt_count", "rt_sum")
    ]
    # Widened before adding: a smallint sum must saturate, not overflow.
    saturating = [
        f"{q(c)} = {least}(r.{q(c)} + CAST(excluded.{q(c)} AS INTEGER), {SMALLINT_MAX})"
        for c in HISTOGRAM_COLUMNS
    ]
    # Only names from the model's _meta, quoted, go into the text; values are parameters.
    return (
        f"INSERT INTO {q(CheckRollup._meta.db_table)} AS r ({', '.join(map(q, _UPSERT_COLUMNS))}) "
        f"{source} "
        f"ON CONFLICT ({q('site_id')}, {q('period')}, {q('bucket_start')}) DO UPDATE SET "
        + ", ".join(
            [
                *sums,
                f"{q('rt_min')} = {kept('rt_min', least)}",
                f"{q('rt_max')} = {kept('rt_max', greatest)}",
                *saturating,
            ]
        )
    )


def _sqlite_max_params() -> int:
    connection.ensure_connection()
    return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


def backfill_rollups(*, since: datetime, until: datetime, chunk_size: int = 5000) -> int:
    """Rebuild the rollups of the UTC days from since's to until's (excluded) from the checks.

    For checks recorded before rollups existed (after an upgrade). Each day is
    deleted and rebuilt in its own transaction. Live recording adds to the
    current day's rows, so `until` should not pass the start of today (UTC):
    a rebuild of today would count checks recorded meanwhile twice or never.
    Returns how many checks were added.
    """
    day, until = _day_of(since), _day_of(until)
    added = 0
    while day < until:
        end = day + timedelta(days=1)
        with transaction.atomic():
            CheckRollup.objects.filter(bucket_start__gte=day, bucket_start__lt=end).delete()
            checks = (
                Check.objects.filter(checked_at__gte=day, checked_at__lt=end)
                .order_by()
                .values_list("site_id", "checked_at", "up", "response_ms")
            )
            packed = (
                (site_id, check.checked_at, check.up, check.response_ms)
                for site_id, _, check in packed_checks(start=day, end=end)
            )
            batch: list[Row] = []
            for row in itertools.chain(checks.iterator(chunk_size=chunk_size), packed):
                batch.append(row)
                if len(batch) >= chunk_size:
                    add_to_rollups(batch)
                    added, batch = added + len(batch), []
            add_to_rollups(batch)
            added += len(batch)
        day = end
    return added


def _day_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# --- days from hours ----------------------------------------------------------------

# A closed day is summed again at each hourly run for this long after it
# closed, so a check recorded late into its last hour still counts.
LATE_CHECKS_WITHIN = timedelta(hours=3)
# How far back a run looks for closed days not summed yet (after an outage
# of the hourly task, not of the checks: without checks there is nothing to sum).
ROLL_UP_LOOKBACK_DAYS = 7


def roll_up_days(*, now: datetime) -> int:
    """Sum closed UTC days' hourly rollups into daily ones; return how many daily rows it wrote.

    The closed days back to the newest one already summed (at most
    ROLL_UP_LOOKBACK_DAYS), and the day just closed again while
    LATE_CHECKS_WITHIN lasts. Each day is one INSERT … SELECT … GROUP BY
    site that replaces what was there, so summing a day twice is harmless.
    """
    today = _day_of(now)
    days = []
    for back in range(1, ROLL_UP_LOOKBACK_DAYS + 1):
        day = today - timedelta(days=back)
        late = back == 1 and now - today < LATE_CHECKS_WITHIN
        if (
            not late
            and CheckRollup.objects.filter(period=CheckRollup.Period.DAY, bucket_start=day).exists()
        ):
            break
        days.append(day)
    written = 0
    for day in reversed(days):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_roll_up_sql(), _roll_up_params(day))
            written += cursor.rowcount
    return written


def _roll_up_sql() -> str:
    q = connection.ops.quote_name
    least = "LEAST" if connection.vendor == "postgresql" else "MIN"
    table = q(CheckRollup._meta.db_table)
    sums = [f"SUM({q(c)})" for c in ("checks", "failures", "rt_count", "rt_sum")]
    saturated = [f"{least}(SUM({q(c)}), {SMALLINT_MAX})" for c in HISTOGRAM_COLUMNS]
    select = ["site_id", "%s", "%s", *sums, f"MIN({q('rt_min')})", f"MAX({q('rt_max')})"]
    updates = [f"{q(c)} = excluded.{q(c)}" for c in _UPSERT_COLUMNS[3:]]
    # Only names from the model's _meta, quoted, go into the text; values are parameters.
    # WHERE before GROUP BY: SQLite needs one to read ON CONFLICT as the upsert's.
    return (
        f"INSERT INTO {table} ({', '.join(map(q, _UPSERT_COLUMNS))}) "  # noqa: S608
        f"SELECT {', '.join(select + saturated)} FROM {table} "
        f"WHERE {q('period')} = %s AND {q('bucket_start')} >= %s AND {q('bucket_start')} < %s "
        f"GROUP BY {q('site_id')} "
        f"ON CONFLICT ({q('site_id')}, {q('period')}, {q('bucket_start')}) "
        f"DO UPDATE SET {', '.join(updates)}"
    )


def _roll_up_params(day: datetime) -> list:
    adapt = connection.ops.adapt_datetimefield_value
    return [
        int(CheckRollup.Period.DAY),
        adapt(day),
        int(CheckRollup.Period.HOUR),
        adapt(day),
        adapt(day + timedelta(days=1)),
    ]


def day_rollups(site_id: int, start: datetime, now: datetime) -> list[CheckRollup]:
    """A site's daily rollups from the day holding `start` to today, oldest first.

    Closed days from their rows; today, and a closed day roll_up_days has
    not summed yet, from their hours (unsaved rows).
    """
    first, today = _day_of(start), _day_of(now)
    rows = CheckRollup.objects.filter(site_id=site_id, bucket_start__lte=now)
    days = {
        r.bucket_start: r
        for r in rows.filter(
            period=CheckRollup.Period.DAY, bucket_start__gte=first, bucket_start__lt=today
        )
    }
    recent = max(first, today - timedelta(days=1))
    by_day: dict[datetime, list[CheckRollup]] = {}
    for hour in rows.filter(period=CheckRollup.Period.HOUR, bucket_start__gte=recent):
        by_day.setdefault(_day_of(hour.bucket_start), []).append(hour)
    for day, hours in by_day.items():
        if day not in days:
            days[day] = summed_rollup(site_id, day, hours)
    return [days[day] for day in sorted(days)]


def summed_rollup(site_id: int, day: datetime, hours: list[CheckRollup]) -> CheckRollup:
    """One day's rollup summed from its hours in Python, as _roll_up_sql sums it."""
    timed = [h for h in hours if h.rt_min is not None]
    return CheckRollup(
        site_id=site_id,
        period=CheckRollup.Period.DAY,
        bucket_start=day,
        checks=sum(h.checks for h in hours),
        failures=sum(h.failures for h in hours),
        rt_count=sum(h.rt_count for h in hours),
        rt_sum=sum(h.rt_sum for h in hours),
        rt_min=min((h.rt_min for h in timed), default=None),
        rt_max=max((h.rt_max for h in timed), default=None),
        **{c: min(sum(getattr(h, c) for h in hours), SMALLINT_MAX) for c in HISTOGRAM_COLUMNS},
    )


# --- pruning ------------------------------------------------------------------------


def prune_checks(
    *, older_than: datetime, batch_size: int = 5000, time_budget: float = 600.0, pause: float = 0.0
) -> int:
    """Delete raw checks from before `older_than`; return how many went."""
    return _delete_in_batches(
        Check, "checked_at", older_than, batch_size=batch_size, time_budget=time_budget, pause=pause
    )


def prune_blocks(
    *, older_than: datetime, batch_size: int = 500, time_budget: float = 600.0, pause: float = 0.0
) -> int:
    """Delete packed hours whose every check is from before `older_than`; return how many went."""
    return _delete_in_batches(
        CheckBlock,
        "hour",
        older_than - timedelta(hours=1),
        batch_size=batch_size,
        time_budget=time_budget,
        pause=pause,
    )


def prune_rollups(
    *, older_than: datetime, batch_size: int = 5000, time_budget: float = 600.0, pause: float = 0.0
) -> int:
    """Delete rollups whose bucket starts before `older_than`; return how many went."""
    return _delete_in_batches(
        CheckRollup,
        "bucket_start",
        older_than,
        batch_size=batch_size,
        time_budget=time_budget,
        pause=pause,
    )


def _delete_in_batches(
    model: type[models.Model],
    time_field: str,
    older_than: datetime,
    *,
    batch_size: int,
    time_budget: float,
    pause: float,
) -> int:
    """Delete old rows `batch_size` at a time, each batch its own short
    transaction, until none are left or `time_budget` seconds have passed
    (the next run carries on). `pause` seconds between batches let other
    writers in: on SQLite the pruner holds the one write lock while it works.
    """
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    column = q(model._meta.get_field(time_field).column)
    cutoff = connection.ops.adapt_datetimefield_value(older_than)
    references = _set_null_references(model)
    deadline = time.monotonic() + time_budget
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            if references:
                count = _delete_batch_by_id(cursor, model, column, cutoff, batch_size, references)
            else:
                count = _delete_batch(cursor, table, column, cutoff, batch_size)
        deleted += count
        if count < batch_size or time.monotonic() >= deadline:
            return deleted
        time.sleep(pause)


def _delete_batch(cursor, table: str, column: str, cutoff, batch_size: int) -> int:
    """Delete up to batch_size rows before cutoff, named by their address
    (ctid, rowid): Check's key has no single column to name them by.

    Names come from _meta, quoted; values are parameters. No ORDER BY: every
    row before the cutoff goes, in whatever order the index (a BRIN on
    PostgreSQL) finds them, without sorting them all first.
    """
    if connection.vendor == "postgresql":
        sql = (
            f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("  # noqa: S608
            f"SELECT ctid FROM {table} WHERE {column} < %s LIMIT %s))"
        )
    else:
        sql = (
            f"DELETE FROM {table} WHERE rowid IN ("  # noqa: S608
            f"SELECT rowid FROM {table} WHERE {column} < %s LIMIT %s)"
        )
    cursor.execute(sql, [cutoff, batch_size])
    return cursor.rowcount


def _delete_batch_by_id(cursor, model, column: str, cutoff, batch_size: int, references) -> int:
    """As _delete_batch, nulling the references to each row first."""
    q = connection.ops.quote_name
    table, pk = q(model._meta.db_table), q(model._meta.pk.column)
    select = f"SELECT {pk} FROM {table} WHERE {column} < %s LIMIT %s"  # noqa: S608
    cursor.execute(select, [cutoff, batch_size])
    ids = [row[0] for row in cursor.fetchall()]
    if ids:
        in_ids, param = _in_ids()
        for ref_table, ref_column in references:
            cursor.execute(
                f"UPDATE {ref_table} SET {ref_column} = NULL WHERE {ref_column} {in_ids}",  # noqa: S608
                [param(ids)],
            )
        cursor.execute(f"DELETE FROM {table} WHERE {pk} {in_ids}", [param(ids)])  # noqa: S608
    return len(ids)


def _set_null_references(model: type[models.Model]) -> list[tuple[str, str]]:
    """(table, column) of each foreign key to `model` declared SET_NULL.

    Django emulates on_delete in Python; in the database these are plain
    (deferred) foreign keys, so a raw DELETE must null them itself or the
    commit fails. Any other emulated action cannot be done here: refuse.
    """
    q = connection.ops.quote_name
    found = []
    for rel in model._meta.get_fields(include_hidden=True):
        if not isinstance(rel, ForeignObjectRel):
            continue
        if rel.on_delete is models.SET_NULL:
            found.append((q(rel.related_model._meta.db_table), q(rel.field.column)))
        elif rel.on_delete is not models.DO_NOTHING:
            raise NotImplementedError(
                f"{rel.related_model.__name__}.{rel.field.name} is on_delete="
                f"{rel.on_delete.__name__}; raw pruning only handles SET_NULL"
            )
    return found


def _in_ids():
    """SQL for `IN (the ids)` with one parameter, whatever their number."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", list
    return "IN (SELECT value FROM json_each(%s))", json.dumps
