"""Packed history: each closed hour of a site's checks from one location in one row.

A check kept as a row costs about 90 bytes on PostgreSQL: a 24-byte row
header, a line pointer and a key entry come with every row, whatever it
holds (README, "History"). Packed, a check is an 11-byte record in its
hour's CheckBlock, and the block's own row and key are shared by the hour's
checks. Checks stay rows while they are recent (UPTIME_CHECK_PACK_AFTER_HOURS):
the recorder's once-per-due-time key and the state rules work on rows. The
hourly upkeep (monitor.tasks_history) then packs every closed hour before that.

Readers of older checks read both: Check.latest_of, the 24-hour chart,
backfill_rollups and whether a location is named by any check.

A block's data: a format byte, then one record per check in time order
(RECORD), then, for each check with a reason (failed or degraded), its
error kind and message (TEXTS, then UTF-8).
"""

from __future__ import annotations

import itertools
import struct
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Sum
from django.utils.dateparse import parse_datetime

from monitor.models import CHECK_COLUMNS, Check, CheckBlock
from sites.models import Site

FORMAT = 1
# Microseconds into the hour (3.6e9 fits 32 bits), response time in ms,
# HTTP status, flags. Little-endian, unpadded.
RECORD = struct.Struct("<IIHB")
# Lengths of the error kind (≤ 32 characters) and message (≤ 300) in UTF-8.
TEXTS = struct.Struct("<BH")
NO_RESPONSE = 0xFFFF_FFFF
NO_STATUS = 0xFFFF
UP, HAS_TEXT = 1, 2
HOUR = timedelta(hours=1)
# Any constant; PostgreSQL runs packers one batch at a time on this advisory lock.
_PG_LOCK_KEY = 0x7061636B


class PackedCheck(NamedTuple):
    checked_at: datetime
    up: bool
    status_code: int | None
    response_ms: int | None
    error_kind: str = ""
    error_message: str = ""


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --- the format ----------------------------------------------------------------------


def encode(hour: datetime, checks: Iterable[PackedCheck]) -> bytes:
    """One hour's checks (in time order) as a block's data."""
    records, texts = [bytes([FORMAT])], []
    for check in checks:
        offset = check.checked_at - hour
        micros = (offset.days * 86_400 + offset.seconds) * 1_000_000 + offset.microseconds
        if not 0 <= micros < 3_600_000_000:
            raise ValueError(f"{check.checked_at} is not in the hour from {hour}")
        # A degraded check is up with a reason (too slow, certificate expiring).
        has_text = bool(check.error_kind or check.error_message)
        records.append(
            RECORD.pack(
                micros,
                NO_RESPONSE if check.response_ms is None else check.response_ms,
                NO_STATUS if check.status_code is None else check.status_code,
                (UP if check.up else 0) | (HAS_TEXT if has_text else 0),
            )
        )
        if has_text:
            kind, message = check.error_kind.encode(), check.error_message.encode()
            texts.append(TEXTS.pack(len(kind), len(message)) + kind + message)
    return b"".join(records + texts)


def decode(hour: datetime, data: bytes | memoryview, count: int) -> list[PackedCheck]:
    """A block's checks, in time order."""
    data = memoryview(data)
    if data[0] != FORMAT:
        raise ValueError(f"unknown check block format {data[0]}")
    end = 1 + count * RECORD.size
    at = end  # where the next failure's texts start
    checks = []
    for micros, response_ms, status_code, flags in RECORD.iter_unpack(data[1:end]):
        kind = message = ""
        if flags & HAS_TEXT:
            kind_length, message_length = TEXTS.unpack_from(data, at)
            at += TEXTS.size
            kind = bytes(data[at : at + kind_length]).decode()
            at += kind_length
            message = bytes(data[at : at + message_length]).decode()
            at += message_length
        checks.append(
            PackedCheck(
                hour + timedelta(microseconds=micros),
                bool(flags & UP),
                None if status_code == NO_STATUS else status_code,
                None if response_ms == NO_RESPONSE else response_ms,
                kind,
                message,
            )
        )
    return checks


# --- packing -------------------------------------------------------------------------


def pack_checks(
    *,
    older_than: datetime,
    sites_per_batch: int = 500,
    rows_per_batch: int = 50_000,
    time_budget: float = 600.0,
    pause: float = 0.0,
) -> int:
    """Pack every raw check of an hour that closed before `older_than`; return how many.

    A batch of sites, at most `rows_per_batch` checks, at a time, each its
    own transaction: the rows are taken with DELETE … RETURNING, so exactly
    the rows packed are deleted, whatever the recorder writes meanwhile (an
    hour split between two batches is merged by the second). Stops after
    `time_budget` seconds; the next run carries on.
    """
    cutoff = hour_of(older_than)
    deadline = time.monotonic() + time_budget
    sites = Site.objects.order_by("id").values_list("id", flat=True)
    packed, after = 0, 0
    while batch := list(sites.filter(id__gt=after)[:sites_per_batch]):
        taken = rows_per_batch
        while taken == rows_per_batch:  # a backlog: this batch's sites again
            with transaction.atomic():
                _one_packer_at_a_time()
                rows = _take_raw(batch, cutoff, rows_per_batch)
                taken = len(rows)
                packed += add_to_blocks(rows)
            if time.monotonic() >= deadline:
                return packed
            time.sleep(pause)
        after = batch[-1]
    return packed


def _one_packer_at_a_time() -> None:
    """Two packers merging late checks into one new block would each write
    it without the other's checks. SQLite's IMMEDIATE transactions already
    run one at a time; on PostgreSQL an advisory lock held until commit does."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])


def _take_raw(site_ids: list[int], cutoff: datetime, limit: int) -> list[tuple]:
    """Delete up to `limit` of the sites' checks from before `cutoff`, returning them.

    The key starts with site_id; what it scans past the cutoff is the few
    recent hours left as rows, from every location. In the key's order, so a
    limit splits one hour at most (its block is written twice). Rows are
    named by their address (ctid, rowid), as in monitor.history's pruning:
    Check has no id.
    """
    q = connection.ops.quote_name
    table = q(Check._meta.db_table)
    address = "ctid" if connection.vendor == "postgresql" else "rowid"
    chosen = (
        f"SELECT {address} FROM {table} "  # noqa: S608 - names from _meta, quoted
        f"WHERE site_id IN ({', '.join(['%s'] * len(site_ids))}) AND checked_at < %s "
        "ORDER BY site_id, location_id, checked_at LIMIT %s"
    )
    where = f"ctid = ANY(ARRAY({chosen}))" if address == "ctid" else f"rowid IN ({chosen})"
    sql = f"DELETE FROM {table} WHERE {where} RETURNING {', '.join(map(q, CHECK_COLUMNS))}"  # noqa: S608
    cutoff_value = connection.ops.adapt_datetimefield_value(cutoff)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*site_ids, cutoff_value, limit])
        return cursor.fetchall()


def _aware(value: datetime | str) -> datetime:
    """A timestamp as a raw cursor returns it: an aware datetime, or SQLite's text."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_to_blocks(rows: Iterable[tuple]) -> int:
    """Add raw check rows (CHECK_COLUMNS) to their hours' blocks; return how many were added.

    A block that exists already (a check recorded late into a packed hour)
    is merged with: one check per instant, as the raw key keeps it. The
    caller runs one packer at a time (_one_packer_at_a_time).
    """
    hours: dict[tuple[int, int, datetime], dict[datetime, PackedCheck]] = {}
    added = 0
    for site_id, at, up, status, ms, kind, message, location_id in rows:
        at = _aware(at)
        checks = hours.setdefault((site_id, location_id, hour_of(at)), {})
        checks[at] = PackedCheck(at, bool(up), status, ms, kind, message)
        added += 1
    if not hours:
        return 0
    existing = CheckBlock.objects.filter(
        site_id__in={key[0] for key in hours}, hour__in={key[2] for key in hours}
    )
    for block in existing:
        key = (block.site_id, block.location_id, block.hour)
        if (checks := hours.get(key)) is not None:
            for check in decode(block.hour, block.data, block.count):
                checks.setdefault(check.checked_at, check)
    blocks = [
        CheckBlock(
            site_id=site_id,
            location_id=location_id,
            hour=hour,
            count=len(checks),
            data=encode(hour, (checks[at] for at in sorted(checks))),
        )
        for (site_id, location_id, hour), checks in sorted(hours.items())
    ]
    CheckBlock.objects.bulk_create(
        blocks,
        update_conflicts=True,
        unique_fields=["site", "location", "hour"],
        update_fields=["count", "data"],
    )
    return added


# --- reading -------------------------------------------------------------------------


def packed_checks(
    *, start: datetime, end: datetime, site_id: int | None = None
) -> Iterator[tuple[int, int, PackedCheck]]:
    """(site_id, location_id, check) for every packed check in [start, end)."""
    blocks = CheckBlock.objects.filter(hour__gt=start - HOUR, hour__lt=end).order_by()
    if site_id is not None:
        blocks = blocks.filter(site_id=site_id)
    fields = ("site_id", "location_id", "hour", "count", "data")
    for site, location, hour, count, data in blocks.values_list(*fields).iterator(chunk_size=500):
        for check in decode(hour, data, count):
            if start <= check.checked_at < end:
                yield site, location, check


def packed_newest_first(site_id: int, location_id: int) -> Iterator[PackedCheck]:
    """A site's packed checks from one location, newest first, read a few hours at a time."""
    blocks = CheckBlock.objects.filter(site_id=site_id, location_id=location_id)
    before = None
    while True:
        page = blocks.filter(hour__lt=before) if before else blocks
        page = list(page.order_by("-hour").values_list("hour", "count", "data")[:4])
        for hour, count, data in page:
            yield from reversed(decode(hour, data, count))
        if len(page) < 4:
            return
        before = page[-1][0]


def as_check(site_id: int, location_id: int, check: PackedCheck) -> Check:
    return Check(site_id=site_id, location_id=location_id, **check._asdict())


def packed_count(*, site_id: int) -> int:
    return CheckBlock.objects.filter(site_id=site_id).aggregate(n=Sum("count"))["n"] or 0


def latest_packed(site_id: int, location_id: int, limit: int) -> list[Check]:
    newest = packed_newest_first(site_id, location_id)
    return [as_check(site_id, location_id, c) for c in itertools.islice(newest, limit)]
