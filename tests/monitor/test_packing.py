"""Packed history: closed hours of checks become one row per site, location and hour."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction

from monitor.charts import response_series, series_by_location
from monitor.history import add_to_rollups, backfill_rollups, prune_blocks
from monitor.models import DEFAULT_LOCATION_ID, Check, CheckBlock, CheckRollup, Location
from monitor.packing import (
    PackedCheck,
    _one_packer_at_a_time,
    decode,
    encode,
    pack_checks,
    packed_checks,
)
from sites.services import site_create
from tests.factories import alice_project

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
FIELDS = ("checked_at", "up", "status_code", "response_ms", "error_kind", "error_message")


@pytest.fixture
def site(db):
    return site_create(project=alice_project(), url="http://127.0.0.1:9/one")


@pytest.fixture
def other_site(db):
    return site_create(project=alice_project(), url="http://127.0.0.1:9/two")


def facts(checks) -> list[tuple]:
    return [tuple(getattr(c, f) for f in FIELDS) for c in checks]


def mixed_checks(site, start: datetime, n: int, location=None) -> list[Check]:
    """n checks a minute apart: up, failed with a status, failed without one, degraded."""
    variants = [
        {"up": True, "status_code": 200},
        {"up": False, "status_code": 503, "error_kind": "http_status"}
        | {"error_message": "HTTP 503 — Service indisponible ✗"},
        {"up": False, "status_code": None, "error_kind": "timeout"},
        {"up": True, "status_code": 200, "error_kind": "slow"}
        | {"error_message": "2500 ms, slower than 2000 ms"},
    ]
    location_id = location.id if location else DEFAULT_LOCATION_ID
    rows = [
        Check(
            site=site,
            checked_at=start + timedelta(minutes=i, microseconds=i * 1001),
            location_id=location_id,
            response_ms=None if i % 4 == 2 else 40 + i,
            **variants[i % 4],
        )
        for i in range(n)
    ]
    return Check.objects.bulk_create(rows)


# --- the format ---------------------------------------------------------------------


def test_an_hour_of_checks_reads_back_exactly_as_it_was_packed():
    checks = [
        PackedCheck(T0, True, 200, 0),
        PackedCheck(T0 + timedelta(minutes=1, microseconds=7), False, None, None, "timeout", ""),
        PackedCheck(T0 + timedelta(minutes=2), False, 503, 4_000_000, "http_status", "é" * 300),
        PackedCheck(T0 + timedelta(minutes=3), False, 0, 1, "", ""),
        PackedCheck(T0 + timedelta(minutes=4), True, 200, 2500, "slow", "2500 ms > 2000 ms"),
        PackedCheck(T0 + HOUR - timedelta(microseconds=1), True, 32_767, 59_999, "", ""),
    ]

    data = encode(T0, checks)

    assert decode(T0, data, len(checks)) == checks
    # 11 bytes a check, a format byte, and the reasons of failed and degraded ones.
    assert len(data) == 1 + 11 * 6 + (3 + 7) + (3 + 11 + 600) + (3 + 4 + 17)


def test_a_check_outside_the_hour_is_refused():
    with pytest.raises(ValueError, match="not in the hour"):
        encode(T0, [PackedCheck(T0 + HOUR, True, 200, 5)])
    with pytest.raises(ValueError, match="not in the hour"):
        encode(T0, [PackedCheck(T0 - timedelta(microseconds=1), True, 200, 5)])


def test_an_unknown_format_is_refused_rather_than_misread():
    data = bytearray(encode(T0, [PackedCheck(T0, True, 200, 5)]))
    data[0] = 9
    with pytest.raises(ValueError, match="format 9"):
        decode(T0, bytes(data), 1)


# --- packing ------------------------------------------------------------------------


def test_closed_hours_before_the_cutoff_are_packed_and_the_rest_stay_rows(site, other_site):
    old = mixed_checks(site, T0, 90)  # 9:00 to 10:29
    others = mixed_checks(other_site, T0 + timedelta(minutes=30), 20)  # 9:30 to 9:49
    recent = mixed_checks(site, T0 + 2 * HOUR, 5)  # 11:00, a later hour

    assert pack_checks(older_than=T0 + timedelta(hours=2, minutes=30)) == 110

    blocks = {(b.site_id, b.hour): b.count for b in CheckBlock.objects.all()}
    assert blocks == {(site.id, T0): 60, (site.id, T0 + HOUR): 30, (other_site.id, T0): 20}
    assert facts(Check.objects.order_by("checked_at")) == facts(recent)
    packed = [c for s, _, c in packed_checks(start=T0, end=T0 + 2 * HOUR, site_id=site.id)]
    assert facts(packed) == facts(old)
    assert facts(
        c for _, _, c in packed_checks(start=T0, end=T0 + HOUR, site_id=other_site.id)
    ) == facts(others)


def test_the_hour_the_cutoff_falls_in_is_not_packed(site):
    mixed_checks(site, T0, 10)
    assert pack_checks(older_than=T0 + timedelta(minutes=59)) == 0
    assert Check.objects.count() == 10


def test_a_check_recorded_late_into_a_packed_hour_joins_its_block(site):
    mixed_checks(site, T0, 10)
    pack_checks(older_than=T0 + 2 * HOUR)
    late = mixed_checks(site, T0 + timedelta(minutes=30, seconds=5), 1)

    assert pack_checks(older_than=T0 + 2 * HOUR) == 1

    [block] = CheckBlock.objects.all()
    assert block.count == 11
    checks = decode(block.hour, block.data, block.count)
    assert [c.checked_at for c in checks] == sorted(c.checked_at for c in checks)
    assert facts([checks[-1]]) == facts(late)


def test_each_location_has_its_own_block(site):
    away = Location.objects.create(name="eu-west")
    mixed_checks(site, T0, 3)
    mixed_checks(site, T0, 4, location=away)

    pack_checks(older_than=T0 + 2 * HOUR)

    counts = dict(CheckBlock.objects.values_list("location_id", "count"))
    assert counts == {DEFAULT_LOCATION_ID: 3, away.id: 4}


def test_a_backlog_is_packed_a_bounded_number_of_rows_at_a_time(site, other_site):
    checks = mixed_checks(site, T0, 70) + mixed_checks(other_site, T0, 3)

    assert pack_checks(older_than=T0 + 3 * HOUR, rows_per_batch=7) == 73

    blocks = {(b.site_id, b.hour): b for b in CheckBlock.objects.all()}
    assert {key: b.count for key, b in blocks.items()} == {
        (site.id, T0): 60,
        (site.id, T0 + HOUR): 10,
        (other_site.id, T0): 3,
    }
    packed = [c for _, _, c in packed_checks(start=T0, end=T0 + 2 * HOUR)]
    assert sorted(facts(packed)) == sorted(facts(checks))


def test_packing_stops_after_a_batch_when_its_time_budget_is_spent(site, other_site):
    mixed_checks(site, T0, 5)
    mixed_checks(other_site, T0, 5)

    assert pack_checks(older_than=T0 + 2 * HOUR, sites_per_batch=1, time_budget=0) == 5
    assert Check.objects.count() == 5
    assert pack_checks(older_than=T0 + 2 * HOUR, sites_per_batch=1) == 5
    assert not Check.objects.exists()


def test_pruning_takes_a_packed_hour_once_its_last_check_is_past_the_cutoff(site):
    mixed_checks(site, T0, 120)
    pack_checks(older_than=T0 + 3 * HOUR)

    assert prune_blocks(older_than=T0 + HOUR + timedelta(minutes=30)) == 1
    assert list(CheckBlock.objects.values_list("hour", flat=True)) == [T0 + HOUR]


@pytest.mark.django_db(transaction=True)
def test_a_packer_waits_for_another_to_commit_before_it_merges():
    """Two packers merging late checks into one new block would each write it
    without the other's: while one holds the packers' turn, the other waits."""
    site = site_create(project=alice_project(), url="http://127.0.0.1:9/one")
    mixed_checks(site, T0, 10)
    holding, release, finished = threading.Event(), threading.Event(), threading.Event()

    def first_packer() -> None:
        try:
            with transaction.atomic():
                _one_packer_at_a_time()
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def second_packer() -> None:
        try:
            pack_checks(older_than=T0 + 2 * HOUR)
            finished.set()
        finally:
            connection.close()

    first = threading.Thread(target=first_packer)
    first.start()
    assert holding.wait(10)
    second = threading.Thread(target=second_packer)
    second.start()

    assert not finished.wait(0.5)
    release.set()
    first.join()
    second.join()
    assert finished.is_set()
    assert CheckBlock.objects.get().count == 10


# --- reading ------------------------------------------------------------------------


def test_the_latest_checks_read_on_into_the_packed_hours(site):
    away = Location.objects.create(name="eu-west")
    old = mixed_checks(site, T0, 50) + mixed_checks(site, T0, 3, location=away)
    recent = mixed_checks(site, T0 + 5 * HOUR, 4)
    pack_checks(older_than=T0 + 2 * HOUR)

    latest = Check.latest_of(site.id, 20)

    expected = sorted(old + recent, key=lambda c: c.checked_at, reverse=True)[:20]
    assert facts(latest) == facts(expected)
    assert [c.location_id for c in latest] == [c.location_id for c in expected]


def test_the_24_hour_chart_counts_packed_and_recent_checks_alike(site):
    now = T0 + 10 * HOUR
    mixed_checks(site, T0 + 8 * HOUR, 90)  # 17:00 to 18:29, packed below
    mixed_checks(site, now - timedelta(minutes=20), 10)

    before = response_series(site.id, "24h", now=now)
    by_location_before = series_by_location(site.id, now=now)
    pack_checks(older_than=now)
    after = response_series(site.id, "24h", now=now)

    assert CheckBlock.objects.count() == 2
    assert after == before
    assert after.checks == 100
    assert after.failures == 50
    assert series_by_location(site.id, now=now) == by_location_before


def test_rollups_are_rebuilt_from_packed_checks_too(site):
    checks = mixed_checks(site, T0, 90)
    add_to_rollups((site.id, c.checked_at, c.up, c.response_ms) for c in checks)
    pack_checks(older_than=T0 + 3 * HOUR)
    CheckRollup.objects.all().delete()

    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        assert backfill_rollups(since=T0, until=T0 + timedelta(days=1)) == 90

    hour = CheckRollup.objects.get(period=CheckRollup.Period.HOUR, bucket_start=T0)
    assert (hour.checks, hour.failures) == (60, 30)
