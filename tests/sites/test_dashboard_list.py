"""The dashboard list: search, filters, sort, grouping by tag, 24-hour uptime and sparklines."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitor.models import CheckRollup, Transition
from sites.models import Site
from sites.services import site_create
from sites.views import PAGE_SIZE
from tests.factories import alice_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def add(name, port, *, tags=(), **state):
    site = site_create(
        project=alice_project(), url=f"http://127.0.0.1:{port}/", name=name, tags=list(tags)
    )
    if state:
        Site.objects.filter(pk=site.pk).update(**state)
    return site


def shown(client, **params):
    response = client.get(reverse("dashboard"), params)
    assert response.status_code == 200
    return [site.name for site in response.context["sites"]]


def text_of(response):
    return response.content.decode().replace("\xa0", " ")


# --- search, filters, sort ------------------------------------------------------


def test_search_matches_name_or_url_ignoring_case(client_in):
    add("Billing API", 8001)
    add("Frontend", 8002)
    add("Other", 8003)

    assert shown(client_in, q="billing") == ["Billing API"]
    assert shown(client_in, q=":8002") == ["Frontend"]
    assert shown(client_in, q="nothing-like-it") == []


def test_a_search_with_no_match_says_so_and_offers_the_way_back(client_in):
    add("Frontend", 8002)

    page = text_of(client_in.get(reverse("dashboard"), {"q": "zzz"}))

    assert "No monitor matches." in page and "Show all monitors" in page


@pytest.mark.parametrize(
    ("state", "expected"),
    [("up", ["Up one"]), ("down", ["Down one"]), ("unknown", ["New one"]), ("paused", ["Paused"])],
)
def test_the_state_filter_keeps_paused_monitors_apart(client_in, state, expected):
    add("Up one", 8001, status="up")
    add("Down one", 8002, status="down")
    add("New one", 8003)
    add("Paused", 8004, status="up", enabled=False)

    assert shown(client_in, state=state) == expected


def test_the_tag_filter_shows_only_tagged_monitors_each_once(client_in):
    add("A", 8001, tags=["prod", "eu"])
    add("B", 8002, tags=["staging"])
    add("C", 8003, tags=["prod"])

    assert shown(client_in, tag="prod") == ["A", "C"]


def test_sort_by_name_ignores_case_and_uses_the_url_for_unnamed_monitors(client_in):
    add("beta", 8001)
    add("Alpha", 8002)
    add("", 8003)  # shown as http://127.0.0.1:8003/

    assert shown(client_in, sort="name") == ["Alpha", "beta", ""]


def test_sort_by_response_time_puts_the_slowest_first_and_unmeasured_last(client_in):
    add("fast", 8001, last_response_ms=20)
    add("slow", 8002, last_response_ms=900)
    add("never", 8003)

    assert shown(client_in, sort="response") == ["slow", "fast", "never"]


def test_sort_by_last_checked_puts_the_most_recent_first(client_in):
    now = timezone.now()
    add("old", 8001, last_checked_at=now - timedelta(hours=1))
    add("new", 8002, last_checked_at=now)
    add("never", 8003)

    assert shown(client_in, sort="checked") == ["new", "old", "never"]


def test_the_default_order_is_still_most_urgent_first(client_in):
    add("A up", 8001, status="up")
    add("B down", 8002, status="down")

    assert shown(client_in) == ["B down", "A up"]


@pytest.mark.parametrize(("field", "value"), [("sort", "sideways"), ("state", "melted")])
def test_an_unknown_sort_or_state_answers_400_naming_the_field(client_in, field, value):
    add("A", 8001)

    response = client_in.get(reverse("dashboard"), {field: value})

    assert response.status_code == 400
    page = text_of(response)
    assert f'id="filter-{field}-error"' in page and "Select a valid choice" in page
    assert [s.name for s in response.context["sites"]] == ["A"]


# --- grouping by tag --------------------------------------------------------------


def test_grouping_shows_a_monitor_under_each_of_its_tags_and_untagged_last(client_in):
    add("Both", 8001, tags=["api", "web"])
    add("Web only", 8002, tags=["web"])
    add("Bare", 8003)

    response = client_in.get(reverse("dashboard"), {"group": "tag"})

    groups = [(g.name, [s.name for s in g.sites]) for g in response.context["groups"]]
    assert groups == [("api", ["Both"]), ("web", ["Both", "Web only"]), (None, ["Bare"])]
    page = text_of(response)
    assert "No tag" in page
    # Two checkboxes for "Both", each with its own id and label.
    both = Site.objects.get(name="Both").pk
    assert page.count(f'value="{both}" form="bulk-form"') == 2
    assert f'id="pick-{both}-1"' in page and f'id="pick-{both}-2"' in page


def test_grouping_with_a_tag_filter_keeps_the_other_groups_of_the_matching_monitors(client_in):
    add("Both", 8001, tags=["api", "web"])
    add("Web only", 8002, tags=["web"])

    response = client_in.get(reverse("dashboard"), {"group": "tag", "tag": "api"})

    groups = [(g.name, [s.name for s in g.sites]) for g in response.context["groups"]]
    assert groups == [("api", ["Both"]), ("web", ["Both"])]


# --- the poll and the pager keep the view -------------------------------------------


def test_the_poll_and_the_pager_keep_search_filters_sort_and_grouping(client_in):
    for n in range(PAGE_SIZE + 2):
        add(f"svc {n:03d}", 20000 + n, tags=["prod"])

    page = text_of(
        client_in.get(
            reverse("dashboard"),
            {"q": "svc", "tag": "prod", "sort": "name", "group": "tag", "page": "2"},
        )
    )

    kept = "q=svc&amp;tag=prod&amp;sort=name&amp;group=tag"
    assert f'hx-get="/sites/list?{kept}&amp;page=2"' in page
    assert f'href="/?{kept}&amp;page=1"' in page
    # The row actions and the bulk form come back to the same view.
    assert f'name="next" value="/?{kept}&amp;page=2"' in page


def test_the_htmx_refresh_answers_the_same_filtered_page(client_in):
    add("Billing", 8001, status="down")
    add("Frontend", 8002, status="down")

    partial = client_in.get(
        reverse("site_list"), {"q": "bill", "state": "down"}, headers={"HX-Request": "true"}
    )

    assert [s.name for s in partial.context["sites"]] == ["Billing"]
    assert text_of(partial).lstrip().startswith('<section id="site-list"')


def test_the_toolbar_is_a_plain_get_form_outside_the_refreshed_list(client_in):
    add("A", 8001, tags=["prod"])

    page = text_of(client_in.get(reverse("dashboard"), {"q": "A"}))

    toolbar = page.index('role="search"')
    assert toolbar < page.index('id="site-list"')
    assert 'method="get" action="/"' in page
    assert 'id="filter-q" name="q" value="A"' in page
    assert '<option value="prod">prod</option>' in page
    assert 'id="filter-group" name="group" value="tag"' in page


# --- uptime and sparklines ------------------------------------------------------------


def test_each_row_shows_its_time_weighted_24_hour_uptime(client_in):
    now = timezone.now()
    site = add("Flaky", 8001, status="up", created_at=now - timedelta(days=2))
    # Down for 6 of the last 24 hours: 75 %.
    Transition.objects.create(
        site=site, from_status="up", to_status="down", created_at=now - timedelta(hours=10)
    )
    Transition.objects.create(
        site=site, from_status="down", to_status="up", created_at=now - timedelta(hours=4)
    )
    Site.objects.filter(pk=site.pk).update(status_changed_at=now - timedelta(hours=4))

    response = client_in.get(reverse("dashboard"))

    row = response.context["sites"][0]
    assert row.uptime_24h == pytest.approx(75.0, abs=0.01)
    assert "75.00 %" in text_of(response)


def test_a_monitor_never_checked_shows_no_uptime(client_in):
    add("New", 8001)

    response = client_in.get(reverse("dashboard"))

    assert response.context["sites"][0].uptime_24h is None
    assert "Nothing monitored in the last 24 hours" in text_of(response)


def rollup(site, hours_ago, avg, *, low=None, high=None, count=10):
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)
    CheckRollup.objects.create(
        site=site,
        period=CheckRollup.Period.HOUR,
        bucket_start=start,
        checks=count,
        rt_count=count,
        rt_sum=avg * count,
        rt_min=low,
        rt_max=high,
    )


def test_the_sparkline_is_an_inline_svg_labelled_with_min_avg_and_max(client_in):
    site = add("Charted", 8001)
    rollup(site, 2, 100, low=80, high=150)
    rollup(site, 1, 300, low=250, high=400)
    rollup(site, 0, 200, low=150, high=260)
    rollup(site, 30, 9999, low=9999, high=9999)  # older than a day: left out
    other = add("Daily only", 8002)
    CheckRollup.objects.create(
        site=other,
        period=CheckRollup.Period.DAY,
        bucket_start=timezone.now().replace(hour=0, minute=0, second=0, microsecond=0),
        rt_count=1,
        rt_sum=5,
    )

    response = client_in.get(reverse("dashboard"))

    line = {s.name: s.sparkline for s in response.context["sites"]}
    assert line["Daily only"] is None
    chart = line["Charted"]
    assert (chart.minimum, chart.average, chart.maximum, chart.hours) == (80, 200, 400, 3)
    label = "Response time over 24 hours: min 80 ms, avg 200 ms, max 400 ms"
    page = text_of(response)
    assert f'role="img" aria-label="{label}"' in page and f"<title>{label}</title>" in page
    # Three consecutive hours: one line of three points, the highest at the top.
    assert re.fullmatch(r"M\S+ \S+ L\S+ 2\.0 L\S+ \S+", chart.path)


def test_a_missing_hour_breaks_the_line_and_a_lone_hour_is_a_dot(client_in):
    site = add("Gappy", 8001)
    rollup(site, 5, 100)
    rollup(site, 4, 100)
    rollup(site, 1, 50)

    chart = client_in.get(reverse("dashboard")).context["sites"][0].sparkline

    assert chart.path.count("M") == 3  # two runs, and the dot drawn again
    assert chart.path.endswith("h0.1")


def test_the_page_figures_cost_the_same_queries_for_one_site_as_for_a_full_page(client_in):
    def queries() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            client_in.get(reverse("site_list"), {"group": "tag"})
        return [q["sql"] for q in captured.captured_queries]

    site = add("One", 30000, tags=["a"])
    rollup(site, 1, 100)
    few = queries()
    for n in range(PAGE_SIZE + 5):
        other = add(f"More {n}", 30001 + n, tags=["a", "b"])
        rollup(other, 1, 100)
    many = queries()

    assert len(many) == len(few)
    assert len([sql for sql in many if "monitor_checkrollup" in sql]) == 1
