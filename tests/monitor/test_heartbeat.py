"""Heartbeat rules: pings, missed deadlines, /start and /fail, cron in a time zone, pause.

Time is passed in: the evaluator and pings take `now`, so no test sleeps.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from monitor.heartbeat import Outcome, Signal, evaluate_heartbeats, next_expected, ping_receive
from monitor.models import Check, Heartbeat, Transition
from sites.models import Site
from sites.services import site_create, site_delete, site_update
from tests.factories import alice_project

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def heartbeat(*, created=T0, **options) -> Site:
    """A heartbeat monitor made at `created` (every hour, 5 minutes' grace unless told)."""
    if "cron" not in options:
        options.setdefault("period", 3600)
    options.setdefault("grace", 300)
    site = site_create(project=alice_project(), kind="heartbeat", options=options)
    Site.objects.filter(id=site.id).update(created_at=created)
    site.refresh_from_db()
    return site


def ping(site: Site, at: datetime, signal: Signal = Signal.SUCCESS, message: str = "") -> Outcome:
    return ping_receive(token=site.ping_token, signal=signal, message=message, now=at)


def state(site: Site) -> tuple[str, str, str]:
    site.refresh_from_db()
    return site.status, site.last_error_kind, site.last_error_message


def at(seconds: float, start: datetime = T0) -> datetime:
    return start + timedelta(seconds=seconds)


def test_a_ping_marks_the_heartbeat_up_and_records_a_check(db):
    site = heartbeat()

    assert ping(site, at(10)) == Outcome.RECORDED

    assert state(site) == ("up", "", "")
    check = Check.objects.get(site=site)
    assert (check.up, check.checked_at, check.response_ms) == (True, at(10), None)
    assert Heartbeat.objects.get(site=site).last_ping_at == at(10)


def test_no_ping_by_period_plus_grace_is_one_missed_deadline(db):
    site = heartbeat()

    assert evaluate_heartbeats(at(3600 + 299)) == 0
    assert evaluate_heartbeats(at(3600 + 300)) == 1

    status, kind, message = state(site)
    assert (status, kind) == ("down", "missed")
    assert message == (
        "No ping since the monitor was created at 2026-01-05 12:00:00 UTC "
        "(expected every 1 h, grace 5 min)"
    )
    check = Check.objects.get(site=site)
    assert check.checked_at == at(3900)  # when the deadline passed, not when it was noticed
    assert Transition.objects.get(site=site).to_status == "down"


def test_a_missed_deadline_is_recorded_once_however_often_the_evaluator_runs(db):
    site = heartbeat()

    for seconds in (3900, 3910, 3925, 5000, 7499):
        evaluate_heartbeats(at(seconds))
    assert Check.objects.filter(site=site).count() == 1

    evaluate_heartbeats(at(7500))  # the next hour's deadline: a second miss
    assert Check.objects.filter(site=site).count() == 2


def test_after_a_stall_one_miss_is_recorded_and_the_schedule_goes_on_from_the_latest(db):
    site = heartbeat()

    assert evaluate_heartbeats(at(10 * 3600 + 400)) == 1

    beat = Heartbeat.objects.get(site=site)
    assert beat.expected_from == at(10 * 3600)
    assert beat.deadline_at == at(11 * 3600 + 300)


def test_a_ping_after_a_miss_brings_it_back_up_and_names_the_last_ping_next_time(db):
    site = heartbeat()
    ping(site, at(60))
    evaluate_heartbeats(at(60 + 3900))
    assert state(site)[0] == "down"

    ping(site, at(5000))
    assert state(site)[0] == "up"
    evaluate_heartbeats(at(5000 + 3900))

    assert state(site)[2].startswith("No ping since 2026-01-05 13:23:20 UTC")
    assert list(Transition.objects.values_list("to_status", flat=True).order_by("id")) == [
        "down",
        "up",
        "down",
    ]


def test_a_late_ping_still_records_the_deadline_it_missed_first(db):
    site = heartbeat()

    ping(site, at(4000))  # 100 s after the deadline; the evaluator has not run

    checks = list(Check.objects.filter(site=site).order_by("checked_at"))
    assert [(c.up, c.checked_at) for c in checks] == [(False, at(3900)), (True, at(4000))]
    assert state(site)[0] == "up"


def test_fail_is_down_at_once_with_the_jobs_message(db):
    site = heartbeat()
    ping(site, at(10))

    ping(site, at(20), Signal.FAIL, "disk full")

    assert state(site) == ("down", "job_failed", "The job reported a failure: disk full")


def test_fail_counts_as_the_jobs_run_for_the_schedule(db):
    site = heartbeat()
    ping(site, at(100), Signal.FAIL)

    assert Heartbeat.objects.get(site=site).deadline_at == at(100 + 3900)


def test_a_run_started_and_not_finished_within_grace_is_a_missed_deadline(db):
    site = heartbeat()
    ping(site, at(10))
    ping(site, at(1000), Signal.START)
    assert Check.objects.filter(site=site).count() == 1  # /start records no check

    assert evaluate_heartbeats(at(1000 + 299)) == 0
    assert evaluate_heartbeats(at(1000 + 300)) == 1

    assert state(site) == (
        "down",
        "missed",
        "Started at 2026-01-05 12:16:40 UTC and did not finish within the grace of 5 min",
    )
    # The run is judged; the schedule goes on from the last ping.
    assert Heartbeat.objects.get(site=site).deadline_at == at(10 + 3900)


def test_a_success_after_start_records_how_long_the_run_took(db):
    site = heartbeat()
    ping(site, at(1000), Signal.START)

    ping(site, at(1042.5), Signal.SUCCESS)

    assert Check.objects.get(site=site).response_ms == 42500
    assert Heartbeat.objects.get(site=site).started_at is None
    assert evaluate_heartbeats(at(1000 + 300)) == 0


def test_failure_threshold_counts_missed_deadlines_and_never_schedules_a_probe(db):
    site = heartbeat()
    Site.objects.filter(id=site.id).update(failure_threshold=2)

    evaluate_heartbeats(at(3900))
    site.refresh_from_db()
    assert (site.status, site.failures_in_a_row, site.next_check_at) == ("unknown", 1, None)

    evaluate_heartbeats(at(7500))
    site.refresh_from_db()
    assert (site.status, site.next_check_at) == ("down", None)


def test_a_paused_heartbeat_ignores_pings_and_is_not_judged(db):
    site = heartbeat()
    site_update(site=site, enabled=False)

    assert ping(site, at(10)) == Outcome.PAUSED
    assert evaluate_heartbeats(at(30 * 86400)) == 0
    assert not Check.objects.filter(site=site).exists()


def test_after_a_resume_the_schedule_counts_from_the_resume(db):
    site = heartbeat()
    ping(site, at(10))
    site_update(site=site, enabled=False)
    site_update(site=site, enabled=True)
    Site.objects.filter(id=site.id).update(resumed_at=at(86400))  # resumed a day later

    assert evaluate_heartbeats(at(86400 + 3899)) == 0
    assert evaluate_heartbeats(at(86400 + 3900)) == 1
    assert "resumed at 2026-01-06 12:00:00 UTC" in state(site)[2]


def test_an_edited_period_moves_the_deadline(db):
    site = heartbeat(period=86400)
    evaluate_heartbeats(at(60))  # the deadline is derived: a day away
    assert Heartbeat.objects.get(site=site).deadline_at == at(86400 + 300)

    site_update(site=site, options={"period": 600})

    assert evaluate_heartbeats(at(900)) == 1


def test_a_cron_deadline_follows_the_time_zone_across_the_dst_change(db):
    # 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC from 29 March 2026.
    site = heartbeat(
        created=datetime(2026, 3, 27, 12, 0, tzinfo=UTC),
        cron="0 9 * * *",
        timezone="Europe/Paris",
        grace=600,
    )

    assert evaluate_heartbeats(datetime(2026, 3, 28, 8, 9, 59, tzinfo=UTC)) == 0
    assert evaluate_heartbeats(datetime(2026, 3, 28, 8, 10, tzinfo=UTC)) == 1
    assert Heartbeat.objects.get(site=site).deadline_at == datetime(2026, 3, 29, 7, 10, tzinfo=UTC)
    assert evaluate_heartbeats(datetime(2026, 3, 29, 7, 10, tzinfo=UTC)) == 1

    assert state(site)[2] == (
        "No ping since the monitor was created at 2026-03-27 13:00:00 CET "
        '(expected at 2026-03-29 09:00:00 CEST by cron "0 9 * * *", grace 10 min)'
    )


def test_a_cron_ping_counts_for_the_scheduled_time_before_it(db):
    site = heartbeat(cron="0 * * * *")  # hourly, on the hour, UTC

    ping(site, at(30))  # the 12:00 run, finished at 12:00:30

    assert Heartbeat.objects.get(site=site).deadline_at == at(3600 + 300)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # Spring forward: 02:30 does not exist on 29 March; cron runs it at 03:00.
        (datetime(2026, 3, 28, 12, 0, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        # Fall back: 02:30 happens twice on 25 October; only the first pass counts.
        (datetime(2026, 10, 25, 0, 31, tzinfo=UTC), datetime(2026, 10, 26, 1, 30, tzinfo=UTC)),
    ],
)
def test_a_cron_time_that_dst_skips_or_repeats_is_expected_once(after, expected):
    options = {"cron": "30 2 * * *", "timezone": "Europe/Paris", "period": None, "grace": 0}

    assert next_expected(options, after) == expected


def test_a_heartbeat_of_a_deleted_monitor_goes_with_it(db):
    site = heartbeat()
    ping(site, at(10))
    site_id = site.id

    site_delete(site=site)

    assert evaluate_heartbeats(at(10 * 86400)) == 0
    assert not Site.objects.filter(id=site_id).exists()
    if connection.vendor == "postgresql":  # SQLite keeps an orphan row, never read
        assert not Heartbeat.objects.filter(site_id=site_id).exists()


def test_the_evaluator_reads_once_when_nothing_is_due(db, django_assert_num_queries):
    sites = [heartbeat() for _ in range(20)]
    evaluate_heartbeats(at(60))  # derives each deadline once
    for site in sites[:5]:
        ping(site, at(120))

    with django_assert_num_queries(1):
        assert evaluate_heartbeats(at(600)) == 0


def test_the_evaluators_queries_do_not_grow_with_the_misses(db, django_assert_max_num_queries):
    for _ in range(30):
        heartbeat()
    evaluate_heartbeats(at(60))

    with django_assert_max_num_queries(15):
        assert evaluate_heartbeats(at(3900)) == 30
