"""Time-weighted uptime, with answers known to the second."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitor.availability import PERIODS, daily_many, measures_many, uptime_many
from monitor.maintenance import maintenance_create
from monitor.models import MonitoringGap, Transition
from sites.models import Site
from sites.services import site_update
from tests.factories import alice_project

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOUR = {"1h": timedelta(hours=1)}


def make_site(created_at=T0 - timedelta(days=1), status="up", **fields) -> Site:
    site = Site.objects.create(
        project=alice_project(),
        url=f"https://s{Site.objects.count()}.example.invalid/",
        created_at=created_at,
        status=status,
        status_changed_at=created_at,
        **fields,
    )
    return site


def change(site: Site, at: datetime, before: str, after: str) -> None:
    Transition.objects.create(site=site, created_at=at, from_status=before, to_status=after)


def uptime(site: Site, periods=HOUR, now=T0 + timedelta(hours=1)) -> dict:
    return uptime_many([site], periods, now=now)[site.pk]


def test_down_15_of_60_minutes_is_75_percent():
    site = make_site()
    change(site, T0 + timedelta(minutes=10), "up", "down")
    change(site, T0 + timedelta(minutes=25), "down", "up")
    assert uptime(site) == {"1h": 75.0}


def test_down_at_the_start_of_the_range_counts_from_the_start():
    site = make_site()
    change(site, T0 - timedelta(minutes=30), "up", "down")
    change(site, T0 + timedelta(minutes=6), "down", "up")
    assert uptime(site) == {"1h": 90.0}


def test_still_down_counts_to_now():
    site = make_site(status="down")
    change(site, T0 + timedelta(minutes=45), "up", "down")
    assert uptime(site) == {"1h": 75.0}


def test_degraded_counts_as_up():
    site = make_site()
    change(site, T0 + timedelta(minutes=10), "up", "degraded")
    change(site, T0 + timedelta(minutes=20), "degraded", "down")
    change(site, T0 + timedelta(minutes=35), "down", "up")
    assert uptime(site) == {"1h": 75.0}


def test_a_maintenance_window_inside_the_range_is_left_out():
    site = make_site()
    # Down 15 minutes, 5 of them inside a 20-minute window: 10 of 40 monitored.
    change(site, T0 + timedelta(minutes=10), "up", "down")
    change(site, T0 + timedelta(minutes=25), "down", "up")
    maintenance_create(
        project=site.project,
        title="Deploy",
        starts_at=T0 + timedelta(minutes=20),
        ends_at=T0 + timedelta(minutes=40),
        sites=[site],
    )
    [measure] = measures_many([site], HOUR, now=T0 + timedelta(hours=1))[site.pk].values()
    assert measure.monitored == 40 * 60
    assert measure.down == 10 * 60
    assert measure.maintenance == 20 * 60
    assert measure.uptime == 75.0


def test_a_window_of_another_site_changes_nothing():
    site, other = make_site(), make_site()
    change(site, T0 + timedelta(minutes=10), "up", "down")
    change(site, T0 + timedelta(minutes=25), "down", "up")
    maintenance_create(
        project=site.project,
        title="Other",
        starts_at=T0,
        ends_at=T0 + timedelta(minutes=30),
        sites=[other],
    )
    assert uptime(site) == {"1h": 75.0}
    assert uptime(other) == {"1h": 100.0}


def test_a_project_wide_recurring_window_is_left_out():
    site = make_site()
    # Daily 12:00-12:30: the half hour of downtime inside it does not count.
    change(site, T0, "up", "down")
    change(site, T0 + timedelta(minutes=45), "down", "up")
    maintenance_create(
        project=site.project,
        title="Nightly",
        starts_at=T0 - timedelta(days=3),
        ends_at=T0 - timedelta(days=3) + timedelta(minutes=30),
        rrule="FREQ=DAILY",
    )
    # 30 monitored minutes, 15 of them down.
    assert uptime(site) == {"1h": 50.0}


def test_a_gap_is_left_out():
    site = make_site()
    change(site, T0 + timedelta(minutes=10), "up", "down")
    change(site, T0 + timedelta(minutes=25), "down", "up")
    MonitoringGap.objects.create(
        site=site, started_at=T0 + timedelta(minutes=30), ended_at=T0 + timedelta(minutes=50)
    )
    # 15 down of 40 monitored.
    assert uptime(site) == {"1h": 62.5}


def test_a_gap_inside_maintenance_is_counted_once():
    site = make_site()
    MonitoringGap.objects.create(
        site=site, started_at=T0 + timedelta(minutes=10), ended_at=T0 + timedelta(minutes=30)
    )
    maintenance_create(
        project=site.project,
        title="Deploy",
        starts_at=T0 + timedelta(minutes=20),
        ends_at=T0 + timedelta(minutes=40),
    )
    [measure] = measures_many([site], HOUR, now=T0 + timedelta(hours=1))[site.pk].values()
    assert (measure.monitored, measure.maintenance, measure.not_monitored) == (1800, 1200, 600)


def test_pauses_are_left_out(monkeypatch):
    site = make_site(status="down", created_at=T0)
    change(site, T0, "unknown", "down")
    clock = {"now": T0 + timedelta(minutes=20)}
    monkeypatch.setattr("django.utils.timezone.now", lambda: clock["now"])
    site_update(site=site, enabled=False)
    clock["now"] = T0 + timedelta(minutes=50)
    site_update(site=site, enabled=True)
    # Down all along, but only 20 + 10 monitored minutes.
    [measure] = measures_many([site], HOUR, now=T0 + timedelta(hours=1))[site.pk].values()
    assert (measure.down, measure.monitored, measure.not_monitored) == (1800, 1800, 1800)
    # A pause still going on is left out up to now.
    clock["now"] = T0 + timedelta(minutes=55)
    site.refresh_from_db()
    site_update(site=site, enabled=False)
    [measure] = measures_many([site], HOUR, now=T0 + timedelta(hours=1))[site.pk].values()
    assert measure.monitored == 1500


def test_time_before_the_first_check_is_not_monitored():
    # Created at T0, first confirmed failure at 12:30, up again at 12:45.
    site = make_site(created_at=T0, status="up")
    change(site, T0 + timedelta(minutes=30), "unknown", "down")
    change(site, T0 + timedelta(minutes=45), "down", "up")
    assert uptime(site) == {"1h": 50.0}


def test_a_first_success_is_known_from_the_status_change():
    site = make_site(created_at=T0, status="up")
    site.status_changed_at = T0 + timedelta(minutes=20)
    site.save()
    [measure] = measures_many([site], HOUR, now=T0 + timedelta(hours=1))[site.pk].values()
    assert (measure.monitored, measure.down) == (2400, 0)


def test_nothing_monitored_is_none():
    site = make_site(status="unknown")
    assert uptime_many([site], now=T0)[site.pk] == dict.fromkeys(PERIODS)


def test_a_site_younger_than_the_period_counts_only_its_life():
    site = make_site(created_at=T0 - timedelta(hours=2))
    change(site, T0, "up", "down")
    change(site, T0 + timedelta(minutes=30), "down", "up")
    figures = uptime_many([site], now=T0 + timedelta(hours=2))[site.pk]
    # 30 minutes down of 4 hours, whatever the period.
    assert figures == dict.fromkeys(PERIODS, 87.5)


def test_percentages_keep_four_decimals():
    site = make_site(created_at=T0 - timedelta(days=40))
    change(site, T0, "up", "down")
    change(site, T0 + timedelta(seconds=7), "down", "up")
    figures = uptime_many([site], now=T0 + timedelta(hours=1))[site.pk]
    assert figures["24h"] == round(100 * (1 - 7 / 86400), 4) == 99.9919
    assert figures["30d"] == 99.9997


def test_daily_bars_split_at_midnight():
    site = make_site(created_at=T0 - timedelta(days=5))
    # Down from 23:00 on the 1st to 01:00 on the 2nd: an hour on each day.
    change(site, datetime(2026, 3, 1, 23, tzinfo=UTC), "up", "down")
    change(site, datetime(2026, 3, 2, 1, tzinfo=UTC), "down", "up")
    days = daily_many([site], 3, now=T0)[site.pk]
    assert [d.day.isoformat() for d in days] == ["2026-02-28", "2026-03-01", "2026-03-02"]
    assert days[0].uptime == 100.0
    assert days[1].uptime == round(100 * 23 / 24, 4)
    # Today so far: 12 hours, one of them down.
    assert days[2].uptime == round(100 * 11 / 12, 4)


def test_days_before_creation_are_none():
    site = make_site(created_at=T0 - timedelta(hours=1))
    days = daily_many([site], 3, now=T0)[site.pk]
    assert [d.uptime for d in days] == [None, None, 100.0]


def test_many_sites_take_a_fixed_number_of_queries():
    sites = [make_site() for _ in range(20)]
    for site in sites:
        change(site, T0 + timedelta(minutes=10), "up", "down")
        change(site, T0 + timedelta(minutes=25), "down", "up")
        MonitoringGap.objects.create(
            site=site, started_at=T0 + timedelta(minutes=30), ended_at=T0 + timedelta(minutes=50)
        )
    with CaptureQueriesContext(connection) as queries:
        figures = uptime_many(sites, HOUR, now=T0 + timedelta(hours=1))
    assert all(f == {"1h": 62.5} for f in figures.values())
    assert len(queries) <= 5
