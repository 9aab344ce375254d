"""History: hourly and daily rollups, pruning old checks and rollups."""

import logging
import math
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitor.history import (
    _UPSERT_COLUMNS,
    P95_MAX_ABSOLUTE_ERROR_LOW_MS,
    P95_MAX_RELATIVE_ERROR,
    add_to_rollups,
    backfill_rollups,
    prune_checks,
    prune_rollups,
    roll_up_days,
)
from monitor.models import Check, CheckBlock, CheckRollup, Transition
from monitor.probe import ProbeResult
from monitor.recording import record_results
from monitor.tasks_history import prune_history
from sites.services import site_create
from tests.factories import alice_project

HOUR, DAY = CheckRollup.Period.HOUR, CheckRollup.Period.DAY
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def site(db):
    return site_create(project=alice_project(), url="http://127.0.0.1:9/one")


@pytest.fixture
def other_site(db):
    return site_create(project=alice_project(), url="http://127.0.0.1:9/two")


def rollup(site, period, start) -> CheckRollup:
    return CheckRollup.objects.get(site=site, period=period, bucket_start=start)


def true_percentile(values: list[int], fraction: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(round(fraction * len(ordered), 9))) - 1]


def checks_at(site, moments, **fields) -> list[Check]:
    fields = {"up": True, "response_ms": 100} | fields
    return Check.objects.bulk_create(Check(site=site, checked_at=m, **fields) for m in moments)


# --- rollups ------------------------------------------------------------------------


def test_a_batch_across_two_hours_and_two_sites_makes_hourly_and_daily_rollups(site, other_site):
    rows = [
        (site.id, T0 + timedelta(minutes=5), True, 120),
        (site.id, T0 + timedelta(minutes=35), False, 480),
        (site.id, T0 + timedelta(minutes=50), False, None),  # refused: no response time
        (site.id, T0 + timedelta(minutes=65), True, 60),
        (other_site.id, T0 + timedelta(minutes=10), True, 30),
    ]
    assert add_to_rollups(rows) == 5  # site: 2 hours + 1 day; other: 1 hour + 1 day

    first = rollup(site, HOUR, T0)
    assert (first.checks, first.failures, first.rt_count) == (3, 2, 2)
    assert (first.rt_min, first.rt_avg, first.rt_max) == (120, 300, 480)
    second = rollup(site, HOUR, T0 + timedelta(hours=1))
    assert (second.checks, second.failures, second.rt_min, second.rt_max) == (1, 0, 60, 60)
    day = rollup(site, DAY, datetime(2026, 3, 10, tzinfo=UTC))
    assert (day.checks, day.failures, day.rt_count, day.rt_sum) == (4, 2, 3, 660)
    assert (day.rt_min, day.rt_max) == (60, 480)
    assert sum(day.histogram) == 3
    other = rollup(other_site, DAY, datetime(2026, 3, 10, tzinfo=UTC))
    assert (other.checks, other.rt_min, other.uptime_ratio) == (1, 30, 1.0)


def test_buckets_are_utc_hours_and_days_whatever_the_checks_time_zone(site):
    # 00:30 in UTC+02:00 is 22:30 UTC the day before.
    add_to_rollups(
        [(site.id, datetime(2026, 3, 11, 0, 30, tzinfo=timezone(timedelta(hours=2))), True, 5)]
    )
    assert rollup(site, HOUR, datetime(2026, 3, 10, 22, tzinfo=UTC)).checks == 1
    assert rollup(site, DAY, datetime(2026, 3, 10, tzinfo=UTC)).checks == 1


def test_a_second_batch_into_the_same_bucket_adds_up(site):
    add_to_rollups([(site.id, T0, False, None), (site.id, T0 + timedelta(minutes=1), True, 200)])
    add_to_rollups(
        [
            (site.id, T0 + timedelta(minutes=2), True, 50),
            (site.id, T0 + timedelta(minutes=3), False, 900),
        ]
    )
    hour = rollup(site, HOUR, T0)
    assert (hour.checks, hour.failures, hour.rt_count, hour.rt_sum) == (4, 2, 3, 1150)
    assert (hour.rt_min, hour.rt_max) == (50, 900)
    assert rollup(site, DAY, T0.replace(hour=0)).checks == 4


def test_a_bucket_without_response_times_takes_the_first_min_and_max_it_gets(site):
    add_to_rollups([(site.id, T0, False, None)])
    assert rollup(site, HOUR, T0).rt_min is None
    add_to_rollups([(site.id, T0 + timedelta(minutes=1), True, 70)])
    add_to_rollups([(site.id, T0 + timedelta(minutes=2), False, None)])
    hour = rollup(site, HOUR, T0)
    assert (hour.rt_min, hour.rt_max, hour.p95_ms) == (70, 70, 70)


def test_a_batch_of_five_hundred_checks_is_one_statement(db):
    sites = [
        site_create(project=alice_project(), url=f"http://127.0.0.1:9/{n}") for n in range(500)
    ]
    rows = [(s.id, T0 + timedelta(seconds=n), True, 40 + n) for n, s in enumerate(sites)]
    with CaptureQueriesContext(connection) as queries:
        assert add_to_rollups(rows) == 1000
    assert len(queries) == 1
    assert CheckRollup.objects.filter(period=DAY).count() == 500


def test_histogram_counts_saturate_instead_of_overflowing(site):
    add_to_rollups([(site.id, T0, True, 100)])
    CheckRollup.objects.filter(site=site).update(h06=32_760)  # 100 ms is bucket 6: [91, 128)
    add_to_rollups([(site.id, T0 + timedelta(seconds=n), True, 100) for n in range(1, 20)])
    hour = rollup(site, HOUR, T0)
    assert hour.h06 == 32_767
    assert hour.checks == 20


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng: int(rng.lognormvariate(math.log(250), 0.8)),
        lambda rng: rng.randint(16, 60_000),
        lambda rng: rng.choice([40, 41, 42, 3000]),
        lambda rng: 23 if rng.random() < 0.96 else 31_000,  # p95 on a bucket's lower edge
    ],
    ids=["lognormal", "uniform", "clustered", "edge"],
)
def test_the_p95_estimate_is_within_the_documented_relative_bound(site, draw):
    rng = random.Random(7)
    values = [max(16, draw(rng)) for _ in range(2000)]
    add_to_rollups([(site.id, T0 + timedelta(seconds=n), True, v) for n, v in enumerate(values)])
    hour = rollup(site, HOUR, T0)
    for fraction in (0.5, 0.95, 0.99):
        truth = true_percentile(values, fraction)
        estimate = hour.percentile_ms(fraction)
        assert abs(estimate - truth) <= P95_MAX_RELATIVE_ERROR * truth, (fraction, truth)
    assert P95_MAX_RELATIVE_ERROR < 0.2


def test_the_p95_estimate_below_sixteen_ms_is_within_eight_ms(site):
    values = [1, 2, 2, 3, 15] * 20
    add_to_rollups([(site.id, T0 + timedelta(seconds=n), True, v) for n, v in enumerate(values)])
    estimate = rollup(site, HOUR, T0).p95_ms
    assert abs(estimate - true_percentile(values, 0.95)) <= P95_MAX_ABSOLUTE_ERROR_LOW_MS


def test_rollups_of_a_recorded_batch_match_its_stored_checks(site, other_site):
    results = [
        ProbeResult(
            up=n % 7 != 0,
            checked_at=T0 + timedelta(minutes=n * 13),
            status_code=200 if n % 7 else 503,
            response_ms=None if n % 11 == 0 else 20 + n * 9,
            site_id=(site, other_site)[n % 2].id,
        )
        for n in range(40)
    ]
    # The recorder adds the batch to the rollups in its own transaction.
    record_results(results)

    for rollup_row in CheckRollup.objects.filter(period=HOUR):
        start = rollup_row.bucket_start
        checks = Check.objects.filter(
            site=rollup_row.site, checked_at__gte=start, checked_at__lt=start + timedelta(hours=1)
        )
        times = [c.response_ms for c in checks if c.response_ms is not None]
        assert rollup_row.checks == checks.count()
        assert rollup_row.failures == checks.filter(up=False).count()
        assert rollup_row.rt_count == len(times)
        assert rollup_row.rt_sum == sum(times)
    # Days are summed from the hours once closed, not check by check.
    assert not CheckRollup.objects.filter(period=DAY).exists()
    roll_up_days(now=T0 + timedelta(days=1))
    assert sum(r.checks for r in CheckRollup.objects.filter(period=DAY)) == 40


# --- days from hours ----------------------------------------------------------------

# Every column the upsert writes but the row's key.
ROLLUP_FIELDS = [c for c in _UPSERT_COLUMNS if c not in ("site_id", "period")]


def day_facts(site) -> list[tuple]:
    days = CheckRollup.objects.filter(site=site, period=DAY).order_by("bucket_start")
    return list(days.values_list(*ROLLUP_FIELDS))


def test_a_day_summed_from_its_hours_is_the_day_summed_check_by_check(site):
    rng = random.Random(3)
    moments = [T0 + timedelta(minutes=7 * n) for n in range(400)]  # two and a bit days
    rows = [
        (site.id, at, rng.random() < 0.9, rng.choice([None, rng.randint(1, 40_000)]))
        for at in moments
    ]
    add_to_rollups(rows)
    check_by_check = day_facts(site)
    CheckRollup.objects.all().delete()
    add_to_rollups(rows, days=False)

    assert roll_up_days(now=T0 + timedelta(days=4)) == 3

    assert len(check_by_check) == 3
    assert day_facts(site) == check_by_check


def test_the_day_just_closed_is_summed_again_while_late_checks_may_arrive(site):
    midnight = T0.replace(hour=0) + timedelta(days=1)
    add_to_rollups([(site.id, midnight - timedelta(hours=1), True, 10)], days=False)
    assert roll_up_days(now=midnight + timedelta(minutes=30)) == 1

    add_to_rollups([(site.id, midnight - timedelta(minutes=1), True, 10)], days=False)
    assert roll_up_days(now=midnight + timedelta(hours=2, minutes=30)) == 1
    assert rollup(site, DAY, midnight - timedelta(days=1)).checks == 2

    add_to_rollups([(site.id, midnight - timedelta(minutes=2), True, 10)], days=False)
    assert roll_up_days(now=midnight + timedelta(hours=4)) == 0
    assert rollup(site, DAY, midnight - timedelta(days=1)).checks == 2


def test_days_the_upkeep_missed_are_summed_at_its_next_run(site):
    for day in range(5):
        add_to_rollups([(site.id, T0 + timedelta(days=day), False, 10)], days=False)
    roll_up_days(now=T0 + timedelta(days=1, hours=5))  # the first day only

    assert roll_up_days(now=T0 + timedelta(days=5, hours=5)) == 4
    assert [f[:3] for f in day_facts(site)] == [
        (T0.replace(hour=0) + timedelta(days=day), 1, 1) for day in range(5)
    ]


def test_backfill_rebuilds_past_days_from_the_raw_checks(site):
    checks_at(site, [T0 + timedelta(minutes=n) for n in range(6)], response_ms=300)
    checks_at(site, [T0 + timedelta(days=1, minutes=1)], up=False, response_ms=None)
    # A stale row the rebuild must replace, not add to.
    add_to_rollups([(site.id, T0, True, 5)] * 3)

    assert backfill_rollups(since=T0, until=T0 + timedelta(days=2)) == 7

    assert rollup(site, HOUR, T0).checks == 6
    assert rollup(site, DAY, T0.replace(hour=0)).rt_min == 300
    assert rollup(site, DAY, T0.replace(hour=0) + timedelta(days=1)).failures == 1


# --- pruning ------------------------------------------------------------------------


def test_pruning_deletes_only_checks_older_than_the_cutoff_in_batches(site):
    cutoff = T0
    checks_at(site, [cutoff - timedelta(days=1, minutes=n) for n in range(12)])
    recent = checks_at(site, [cutoff, cutoff + timedelta(minutes=1), cutoff + timedelta(days=1)])

    with CaptureQueriesContext(connection) as queries:
        assert prune_checks(older_than=cutoff, batch_size=5) == 12
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 5 + 5 + 2

    assert sorted(Check.objects.values_list("checked_at", flat=True)) == [
        c.checked_at for c in recent
    ]


def test_a_transition_keeps_the_facts_of_its_check_once_the_check_is_pruned(site):
    [old] = checks_at(site, [T0 - timedelta(days=40)], up=False, error_kind="timeout")
    kept = Transition.objects.create(
        site=site, check_result=old, from_status="up", to_status="down"
    )

    assert prune_checks(older_than=T0 - timedelta(days=30)) == 1

    assert not Check.objects.exists()
    kept.refresh_from_db()
    assert (kept.checked_at, kept.error_kind) == (old.checked_at, "timeout")
    assert kept.check_result.reason == "Timed out"


def test_pruning_stops_after_a_batch_when_its_time_budget_is_spent(site):
    checks_at(site, [T0 - timedelta(days=2, minutes=n) for n in range(10)])
    assert prune_checks(older_than=T0, batch_size=4, time_budget=0) == 4
    assert Check.objects.count() == 6


def test_pruning_rollups_deletes_only_buckets_that_start_before_the_cutoff(site):
    add_to_rollups([(site.id, T0 - timedelta(days=500), True, 10), (site.id, T0, True, 10)])
    assert prune_rollups(older_than=T0 - timedelta(days=400)) == 2  # its hour and its day
    assert set(CheckRollup.objects.values_list("bucket_start", flat=True)) == {
        T0,
        T0.replace(hour=0),
    }


def test_the_prune_task_packs_then_applies_both_retention_settings_and_logs_the_counts(
    site, settings, caplog
):
    settings.UPTIME_CHECK_RETENTION_DAYS = 30
    settings.UPTIME_ROLLUP_RETENTION_DAYS = 400
    settings.UPTIME_CHECK_PACK_AFTER_HOURS = 2
    checks_at(site, [T0 - timedelta(days=31), T0 - timedelta(days=29), T0 - timedelta(hours=1)])
    add_to_rollups([(site.id, T0 - timedelta(days=401), True, 10), (site.id, T0, True, 10)])

    with time_machine.travel(T0, tick=False), caplog.at_level(logging.INFO):
        counts = prune_history.delay().get()

    # Both old checks packed, then the 31-day-old one's hour pruned; no
    # hourly rollups in the closed days of the last week, so no days summed.
    assert counts == {"days": 0, "packed": 2, "checks": 0, "blocks": 1, "rollups": 2}
    assert Check.objects.get().checked_at == T0 - timedelta(hours=1)
    [block] = CheckBlock.objects.all()
    assert block.hour == T0 - timedelta(days=29)
    assert CheckRollup.objects.count() == 2
    assert (
        "summed 0 daily rollup(s); packed 2 check(s); pruned 0 check(s) and 1 packed "
        "hour(s) older than 30 days and 2 rollup(s) older than 400 days" in caplog.text
    )
