"""The monitor page's history: chart data (monitor.charts), its shaping (sites.history)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from monitor.availability import Day, Measure
from monitor.charts import RANGES, nearest_rank, range_of, response_series
from monitor.history import P95_MAX_RELATIVE_ERROR, add_to_rollups, roll_up_days
from monitor.models import Check, CheckBlock
from monitor.packing import pack_checks
from sites.history import (
    UptimeFigure,
    certificate,
    chart,
    day_level,
    duration_text,
    nice_ceiling,
    percent_text,
)
from sites.models import Site
from tests.factories import alice_project

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def make_site(**fields) -> Site:
    return Site.objects.create(
        project=alice_project(), url="https://api.example.invalid/", status="up", **fields
    )


def checks(site, rows):
    """rows: (seconds before NOW, up, response ms); also summed into the rollups, as recorded."""
    made = [
        Check(site=site, checked_at=NOW - timedelta(seconds=ago), up=up, response_ms=ms)
        for ago, up, ms in rows
    ]
    Check.objects.bulk_create(made)
    add_to_rollups((c.site_id, c.checked_at, c.up, c.response_ms) for c in made)


# --- monitor.charts -----------------------------------------------------------------


def test_24_hours_are_192_buckets_of_raw_checks_with_average_and_percentiles():
    site = make_site()
    # Four checks in the last bucket (NOW - 7.5 min to NOW), one of them failed.
    checks(site, [(60, True, 100), (120, True, 200), (180, True, 300), (240, False, 1000)])
    # One in the first bucket, and one older than 24 h that must not count.
    checks(site, [(86_400 - 10, True, 50), (86_400 + 10, True, 9999)])

    series = response_series(site.pk, "24h", now=NOW)

    assert len(series.points) == 192
    assert series.points[0].start == NOW - timedelta(hours=24)
    assert series.points[1].start - series.points[0].start == timedelta(minutes=7, seconds=30)
    last = series.points[-1]
    # The failed check's 1000 ms is how long it took to fail: left out of the times.
    assert (last.checks, last.failures, last.timed) == (4, 1, 3)
    assert last.avg_ms == 200.0
    assert last.p50_ms == 200.0
    assert last.p95_ms == 300.0
    assert series.points[0].avg_ms == 50.0
    assert all(p.avg_ms is None for p in series.points[1:-1])
    assert series.checks == 5
    assert series.failures == 1
    assert series.avg_ms == pytest.approx((600 + 50) / 4)


def test_7_days_come_from_hourly_rollups_with_estimated_percentiles():
    site = make_site()
    # 20 checks in the hour before NOW: 19 at 100 ms and one at 900 ms.
    checks(site, [(60 + i, True, 100) for i in range(19)] + [(30, True, 900)])
    checks(site, [(3 * 86_400 + 60, False, None)])

    series = response_series(site.pk, "7d", now=NOW)

    assert series.start == NOW - timedelta(days=7)
    assert [p.start for p in series.points] == [
        NOW - timedelta(days=3, hours=1),
        NOW - timedelta(hours=1),
    ]
    older, newer = series.points
    assert (older.checks, older.failures, older.avg_ms) == (1, 1, None)
    assert newer.avg_ms == 140.0
    # The 95th of 20 is the 19th: 100 ms, estimated from the histogram within its error.
    for estimate in (newer.p50_ms, newer.p95_ms):
        assert abs(estimate - 100) / 100 <= P95_MAX_RELATIVE_ERROR


def test_30_days_and_a_year_come_from_daily_rollups():
    site = make_site()
    checks(site, [(3600, True, 100), (86_400 * 40, True, 300)])

    month = response_series(site.pk, "30d", now=NOW)
    year = response_series(site.pk, "1y", now=NOW)

    assert [p.start for p in month.points] == [datetime(2026, 3, 2, tzinfo=UTC)]
    assert month.start == datetime(2026, 1, 31, tzinfo=UTC)
    assert [p.avg_ms for p in year.points] == [300.0, 100.0]
    assert year.points[0].end - year.points[0].start == timedelta(days=1)


def test_the_days_not_summed_yet_are_summed_from_their_hours_on_the_chart():
    site = make_site()
    # As the recorder keeps them: hourly rollups only.
    rows = [(site.pk, NOW - timedelta(hours=h), h % 5 != 0, 100 + h) for h in range(0, 60, 3)]
    add_to_rollups(rows, days=False)
    roll_up_days(now=NOW - timedelta(days=1))  # the day before yesterday only

    before = response_series(site.pk, "30d", now=NOW)
    roll_up_days(now=NOW)  # yesterday too

    assert [(p.start.day, p.checks) for p in before.points] == [(28, 7), (1, 8), (2, 5)]
    assert response_series(site.pk, "30d", now=NOW) == before


def test_each_range_takes_a_query_or_two_whatever_the_number_of_checks(
    django_assert_num_queries,
):
    site = make_site()
    checks(site, [(i * 30, i % 7 != 0, 100 + i) for i in range(500)])
    pack_checks(older_than=NOW - timedelta(hours=2))  # the older half or so

    assert CheckBlock.objects.exists() and Check.objects.exists()
    # The 24 hours: the recent rows, then the packed hours; the days: the
    # summed days, then the hours of today and yesterday.
    queries = {"24h": 2, "7d": 1, "30d": 2, "1y": 2}
    for key in RANGES:
        with django_assert_num_queries(queries[key]):
            response_series(site.pk, key, now=NOW)


def test_an_unknown_range_is_the_24_hours():
    assert range_of("2w").key == "24h"
    assert range_of(None).key == "24h"
    assert range_of("1y").label == "1 year"


def test_nearest_rank():
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([10, 20, 30, 40], 0.5) == 20.0
    assert nearest_rank(list(range(1, 21)), 0.95) == 19.0


# --- sites.history --------------------------------------------------------------------


def test_a_percentage_has_three_decimals_and_never_rounds_up_to_100():
    assert percent_text(75.0) == "75.000"
    assert percent_text(99.9996) == "99.999"
    assert percent_text(99.95833) == "99.958"
    assert percent_text(None) == "—"


def test_durations_read_short():
    assert duration_text(45) == "45 s"
    assert duration_text(12 * 60 + 5) == "12 min"
    assert duration_text(3 * 3600 + 5 * 60) == "3 h 5 min"
    assert duration_text(2 * 86_400 + 4 * 3600 + 59) == "2 d 4 h"


def test_an_uptime_figure_names_what_it_left_out():
    figure = UptimeFigure(
        "24h",
        "24 hours",
        "99.000",
        Measure(down=60, monitored=6000, maintenance=720, not_monitored=0),
    )
    assert figure.excluded == ["12 min maintenance excluded"]
    assert figure.downtime == "1 min"
    quiet = UptimeFigure("7d", "7 days", "100.000", Measure(0, 100, 0, 3600))
    assert quiet.excluded == ["1 h not monitored excluded"]
    assert quiet.downtime == ""


def test_a_days_colour_follows_its_uptime():
    assert [day_level(v) for v in (None, 100.0, 99.5, 97.0, 80.0)] == [
        "none",
        "up",
        "minor",
        "major",
        "down",
    ]


def test_a_certificate_warns_under_14_days():
    site = make_site(cert_expires_at=NOW + timedelta(days=13, hours=23))
    soon = certificate(site, now=NOW)
    assert (soon.days_left, soon.warning, soon.text) == (13, True, "13 days left")
    site.cert_expires_at = NOW + timedelta(days=30)
    assert certificate(site, now=NOW).warning is False
    site.cert_expires_at = NOW - timedelta(hours=30)
    assert certificate(site, now=NOW).text == "expired 2 days ago"
    site.cert_expires_at = None
    assert certificate(site, now=NOW) is None


def test_the_chart_scale_is_a_round_number_above_the_highest_value():
    assert [nice_ceiling(v) for v in (0, 87, 180, 240, 420, 1300)] == [
        100,
        100,
        200,
        250,
        500,
        2000,
    ]


def test_the_chart_breaks_its_line_where_there_is_no_data_and_marks_failures():
    site = make_site()
    checks(site, [(60, True, 100), (86_400 - 10, True, 200), (86_400 - 20, False, None)])

    drawn = chart(response_series(site.pk, "24h", now=NOW))

    # Two points far apart: two separate moves, no line across the empty day.
    assert drawn.avg_path.count("M") == 2 and "L" not in drawn.avg_path
    # 200 ms is the top of the scale: y 0; 100 ms half way down the plot.
    first, last = drawn.avg_path.split(" M")
    assert first.endswith(" 0.0")
    assert last.endswith(f" {drawn.plot_height / 2:.1f}")
    assert [t.label for t in drawn.y_ticks] == ["0 ms", "50 ms", "100 ms", "150 ms", "200 ms"]
    [mark] = drawn.failures
    assert mark.x == "0.000%"
    assert mark.title.startswith("1 failed check of 2 from ")
    assert "3 checks in the last 24 hours" in drawn.summary
    assert "1 failed" in drawn.summary


def test_an_empty_chart_says_so():
    drawn = chart(response_series(make_site().pk, "7d", now=NOW))
    assert drawn.empty
    assert drawn.summary == "No checks in the last 7 days."


def test_day_text_names_the_date_and_the_figure():
    from sites.history import DayCell

    cell = DayCell(Day(date(2026, 3, 1), Measure(36, 86_400, 0, 0)), "minor")
    assert cell.text == "2026-03-01: 99.958 % up"
    empty = DayCell(Day(date(2026, 3, 1), Measure(0, 0, 0, 0)), "none")
    assert empty.text == "2026-03-01: no data"
