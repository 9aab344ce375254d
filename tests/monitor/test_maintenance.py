"""Maintenance windows' rules: validation, occurrences across DST, which sites are covered."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitor.maintenance import (
    active_windows,
    current_or_next,
    in_maintenance,
    maintenance_create,
    maintenance_periods,
    occurrences,
)
from monitor.models import MaintenanceWindow
from sites.services import site_create, site_delete
from teams.services import project_create, project_delete
from tests.factories import alice, alice_project

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


def window(**fields) -> MaintenanceWindow:
    values = {
        "project": alice_project(),
        "title": "Deploy",
        "starts_at": datetime(2026, 1, 4, 2, 0, tzinfo=BERLIN),
        "ends_at": datetime(2026, 1, 4, 4, 0, tzinfo=BERLIN),
        **fields,
    }
    return maintenance_create(**values)


def errors_of(**fields) -> dict:
    with pytest.raises(ValidationError) as caught:
        window(**fields)
    return caught.value.message_dict


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- validation ------------------------------------------------------------------


def test_the_end_must_come_after_the_start():
    assert "ends_at" in errors_of(ends_at=datetime(2026, 1, 4, 1, 0, tzinfo=BERLIN))


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../../etc/passwd", "europe/berlin"])
def test_an_unknown_time_zone_is_refused_on_its_field(name):
    assert "timezone" in errors_of(timezone=name)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=SECONDLY", "FREQ must be one of"),
        ("FREQ=MINUTELY", "FREQ must be one of"),
        ("FREQ=HOURLY", "FREQ must be one of"),
        ("FREQ=WEEKLY;BYDAY=XX", "Not a valid RRULE"),
        ("FREQ=DAILY;BYHOUR=25", "Not a valid RRULE"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101T000000Z", "not both"),
        ("FREQ=DAILY;UNTIL=20270101T000000", "UNTIL must be in UTC"),
        ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "Give one RRULE"),
        ("nonsense", "FREQ must be one of"),
        # Two a day, two hours long: each would overlap the next.
        ("FREQ=DAILY;BYHOUR=2,3", "may not overlap"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "no occurrence"),
        ("FREQ=DAILY;COUNT=5000", "COUNT is not reached"),
    ],
)
def test_a_bad_or_insane_rule_is_refused_on_the_rrule_field(rule, words):
    errors = errors_of(rrule=rule, timezone="Europe/Berlin")
    assert list(errors) == ["rrule"]
    assert words in errors["rrule"][0]


def test_a_site_of_another_project_is_refused_on_the_sites_field():
    other = project_create(user=alice(), name="Other")
    site = site_create(project=other, url="http://127.0.0.1:9/other")
    assert "sites" in errors_of(sites=[site])


def test_the_rule_is_stored_in_upper_case_without_its_prefix():
    made = window(rrule=" rrule:freq=weekly;byday=su ", timezone="Europe/Berlin")
    assert made.rrule == "FREQ=WEEKLY;BYDAY=SU"
    assert made.ends_by is None  # recurs forever


def test_a_counted_rule_knows_when_it_ends():
    made = window(rrule="FREQ=WEEKLY;COUNT=3", timezone="Europe/Berlin")
    assert made.ends_by == datetime(2026, 1, 18, 4, 0, tzinfo=BERLIN)


# --- occurrences -------------------------------------------------------------------


def test_a_one_off_window_occurs_once():
    made = window()
    assert occurrences(made, utc(2026, 1, 1), utc(2026, 2, 1)) == [
        (utc(2026, 1, 4, 1, 0), utc(2026, 1, 4, 3, 0))
    ]
    assert occurrences(made, utc(2026, 1, 4, 3, 0), utc(2026, 2, 1)) == []


def test_a_weekly_window_stays_at_two_in_the_morning_local_time_across_dst():
    made = window(rrule="FREQ=WEEKLY;BYDAY=SU;BYHOUR=2", timezone="Europe/Berlin")

    found = occurrences(made, utc(2026, 3, 20), utc(2026, 4, 10))
    local = [(start.astimezone(BERLIN), end - start) for start, end in found]

    assert [(s.strftime("%m-%d %H:%M %Z"), d) for s, d in local] == [
        ("03-22 02:00 CET", timedelta(hours=2)),
        # 02:00 does not exist on the day clocks go forward: moved on by the gap.
        ("03-29 03:00 CEST", timedelta(hours=2)),
        ("04-05 02:00 CEST", timedelta(hours=2)),
    ]
    # In UTC the start moved by the hour the clocks did.
    assert found[0][0] == utc(2026, 3, 22, 1, 0) and found[2][0] == utc(2026, 4, 5, 0, 0)


def test_autumn_s_repeated_hour_starts_at_the_first_of_the_two():
    made = window(rrule="FREQ=WEEKLY;BYDAY=SU;BYHOUR=2", timezone="Europe/Berlin")
    [(start, _)] = occurrences(made, utc(2026, 10, 24), utc(2026, 10, 26))
    assert start == utc(2026, 10, 25, 0, 0)  # 02:00 CEST, the first 02:00 that night


def test_years_later_the_occurrences_are_found_the_same_way():
    made = window(rrule="FREQ=WEEKLY;BYDAY=SU;BYHOUR=2", timezone="Europe/Berlin")
    found = occurrences(made, utc(2036, 7, 1), utc(2036, 7, 15))
    assert [s.astimezone(BERLIN).strftime("%a %d %H:%M") for s, _ in found] == [
        "Sun 06 02:00",
        "Sun 13 02:00",
    ]


def test_a_monthly_rule_on_the_31st_skips_shorter_months_years_later():
    made = window(
        starts_at=datetime(2026, 1, 31, 22, 0, tzinfo=UTC),
        ends_at=datetime(2026, 1, 31, 23, 0, tzinfo=UTC),
        rrule="FREQ=MONTHLY",
    )
    found = occurrences(made, utc(2031, 3, 1), utc(2031, 9, 1))
    assert [start.month for start, _ in found] == [3, 5, 7, 8]


def test_the_first_occurrence_counts_even_off_the_rule():
    # A Sunday 02:00 rule, first occurrence on a Wednesday (RFC 5545: DTSTART counts).
    made = window(
        starts_at=datetime(2026, 1, 7, 2, 0, tzinfo=BERLIN),
        ends_at=datetime(2026, 1, 7, 3, 0, tzinfo=BERLIN),
        rrule="FREQ=WEEKLY;BYDAY=SU",
        timezone="Europe/Berlin",
    )
    found = occurrences(made, utc(2026, 1, 1), utc(2026, 1, 12))
    assert [s.astimezone(BERLIN).day for s, _ in found] == [7, 11]


def test_an_occurrence_in_progress_is_the_next_one():
    made = window(rrule="FREQ=DAILY", timezone="Europe/Berlin")
    assert current_or_next(made, utc(2026, 2, 1, 2, 0)) == (
        utc(2026, 2, 1, 1, 0),
        utc(2026, 2, 1, 3, 0),
    )
    assert current_or_next(made, utc(2026, 2, 1, 3, 0))[0] == utc(2026, 2, 2, 1, 0)


def test_a_finished_rule_has_no_next_occurrence():
    made = window(rrule="FREQ=DAILY;UNTIL=20260106T000000Z", timezone="Europe/Berlin")
    assert current_or_next(made, utc(2026, 1, 5, 12, 0)) is None


# --- which sites are in maintenance ----------------------------------------------


@pytest.fixture
def sites():
    project = alice_project()
    return [site_create(project=project, url=f"http://127.0.0.1:9/{n}") for n in range(3)]


def test_a_whole_project_window_covers_every_site_of_the_project(sites):
    other = project_create(user=alice(), name="Other")
    outside = site_create(project=other, url="http://127.0.0.1:9/outside")
    window()
    ids = [site.pk for site in sites] + [outside.pk]

    assert in_maintenance(ids, utc(2026, 1, 4, 2, 0)) == {site.pk for site in sites}
    assert in_maintenance(ids, utc(2026, 1, 4, 3, 0)) == set()  # the end is not inside


def test_a_window_for_chosen_sites_covers_only_them(sites):
    made = window(sites=sites[:2], rrule="FREQ=DAILY", timezone="Europe/Berlin")
    ids = [site.pk for site in sites]

    assert in_maintenance(ids, utc(2026, 6, 1, 0, 30)) == {sites[0].pk, sites[1].pk}
    assert in_maintenance(ids, utc(2026, 6, 1, 2, 30)) == set()
    assert active_windows([made.project_id], utc(2026, 6, 1, 0, 30)) == [made]


def test_in_maintenance_asks_the_database_twice_for_a_batch_of_sites(sites):
    window(sites=sites[:1], rrule="FREQ=DAILY", timezone="Europe/Berlin")
    window(title="All", rrule="FREQ=WEEKLY", timezone="Europe/Berlin")
    with CaptureQueriesContext(connection) as queries:
        in_maintenance([site.pk for site in sites], utc(2026, 1, 11, 1, 30))
    assert len(queries) == 2
    with CaptureQueriesContext(connection) as queries:
        assert in_maintenance([site.pk for site in sites], utc(2026, 1, 11, 12, 0)) == set()
    assert len(queries) == 1


def test_maintenance_periods_are_merged_and_clipped_to_the_range(sites):
    window(title="Weekly", rrule="FREQ=WEEKLY", timezone="Europe/Berlin")
    window(
        title="Longer, for this site",
        sites=[sites[0]],
        starts_at=datetime(2026, 1, 11, 3, 0, tzinfo=BERLIN),
        ends_at=datetime(2026, 1, 11, 6, 0, tzinfo=BERLIN),
    )
    window(
        title="Another site's",
        sites=[sites[1]],
        starts_at=utc(2026, 1, 12, 10, 0),
        ends_at=utc(2026, 1, 12, 11, 0),
    )

    periods = maintenance_periods(sites[0].pk, utc(2026, 1, 4, 2, 0), utc(2026, 1, 18, 2, 0))

    assert periods == [
        (utc(2026, 1, 4, 2, 0), utc(2026, 1, 4, 3, 0)),  # clipped at the range's start
        (utc(2026, 1, 11, 1, 0), utc(2026, 1, 11, 5, 0)),  # two windows merged
        (utc(2026, 1, 18, 1, 0), utc(2026, 1, 18, 2, 0)),  # clipped at its end
    ]


def test_deleting_a_site_takes_it_out_of_its_windows(sites):
    made = window(sites=sites[:2])
    site_delete(site=sites[0])
    assert list(made.sites.all()) == [sites[1]]


def test_deleting_a_project_deletes_its_windows(sites):
    project = project_create(user=alice(), name="Doomed")
    site = site_create(project=project, url="http://127.0.0.1:9/doomed")
    window(project=project, sites=[site])
    window(project=project, title="Whole")
    project_delete(project=project, actor=alice())
    assert not MaintenanceWindow.objects.filter(project_id=project.pk).exists()
