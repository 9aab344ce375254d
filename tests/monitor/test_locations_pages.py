"""The pages of locations: the Locations page, the monitor page's per-location table and
regional banner, the chart split by location, and the edit form's location fields."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from monitor.models import Check, Location
from sites.models import Site
from sites.services import site_create
from teams.services import project_create
from tests.factories import alice_project
from tests.monitor.location_helpers import live_location, seen_as, stale_location

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def three():
    return [
        live_location("eu-west", "<b>Frankfurt</b>"),
        live_location("us-east", "Virginia"),
        live_location("ap-south", "Mumbai"),
    ]


@pytest.fixture
def site(three):
    return site_create(
        project=alice_project(),
        url="http://127.0.0.1:8001/health",
        name="API",
        locations=[loc.name for loc in three],
    )


def text_of(response) -> str:
    return response.content.decode().replace("\xa0", " ")


# --- the Locations page ------------------------------------------------------------


def test_the_locations_page_is_in_the_nav_and_needs_a_login(client_in):
    dashboard = text_of(client_in.get(reverse("dashboard")))
    assert f'href="{reverse("locations")}"' in dashboard
    client_in.logout()
    response = client_in.get(reverse("locations"))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_the_locations_page_shows_each_location_with_its_heartbeat_and_state(client_in):
    live_location("eu-west", "<b>Frankfurt</b>", hostname="probe-1.example.invalid")
    stale_location("us-east", "Virginia")
    down = live_location("ap-south", "Mumbai")
    Location.objects.filter(pk=down.pk).update(network_down_since=timezone.now())
    Location.objects.create(name="off", enabled=False)

    response = client_in.get(reverse("locations"))

    assert response.status_code == 200
    page = text_of(response)
    assert "&lt;b&gt;Frankfurt&lt;/b&gt;" in page and "<b>Frankfurt</b>" not in page
    assert "probe-1.example.invalid" in page
    states = dict(re.findall(r'data-location="([a-z-]+)">.*?location-state--([a-z-]+)', page, re.S))
    assert states == {
        "default": "live",  # the central side counts whenever it is enabled
        "eu-west": "live",
        "us-east": "stale",
        "ap-south": "network-down",
        "off": "disabled",
    }
    # Never heard from: the default location (the tests run no engine).
    assert "Never" in page


def test_staff_are_told_how_to_add_a_location(client):
    admin = get_user_model().objects.create_user(
        username="root", password="s3cret-pass", is_staff=True
    )
    client.force_login(admin)

    assert "manage.py location add" in text_of(client.get(reverse("locations")))


# --- the monitor page --------------------------------------------------------------


def test_the_monitor_page_shows_each_locations_state_and_a_regional_problem(client_in, site, three):
    eu, us, ap = three
    seen_as(site, eu, "down", last_error_kind="timeout", last_error_message="No answer")
    seen_as(site, us, "up", last_response_ms=1234)
    seen_as(site, ap, "up")

    response = client_in.get(reverse("site_detail", args=[site.pk]))

    assert response.status_code == 200
    page = text_of(response)
    assert (
        "Regional problem: seen down from &lt;b&gt;Frankfurt&lt;/b&gt; (1 of 3 locations)." in page
    )
    assert "<b>Frankfurt</b>" not in page
    rows = dict(re.findall(r'<tr class="[^"]*" data-location="([a-z-]+)">(.*?)</tr>', page, re.S))
    assert list(rows) == ["eu-west", "us-east", "ap-south"]
    assert "badge--down" in rows["eu-west"] and "No answer" in rows["eu-west"]
    assert "badge--up" in rows["us-east"] and "1,234 ms" in rows["us-east"]
    assert all("<td>Yes</td>" in row for row in rows.values())


def test_the_polled_part_shows_the_banner_too_and_no_banner_without_a_regional_problem(
    client_in, site, three
):
    for location in three[:2]:
        seen_as(site, location, "down")
    seen_as(site, three[2], "up")

    part = text_of(client_in.get(reverse("site_detail_part", args=[site.pk])))

    assert "Regional problem" not in part
    assert 'data-location="ap-south"' in part


def test_a_stale_location_is_marked_and_does_not_vote(client_in, site, three):
    Location.objects.filter(name="ap-south").update(
        last_seen_at=timezone.now() - timedelta(hours=1)
    )
    seen_as(site, three[2], "up")
    seen_as(site, three[0], "up")

    page = text_of(client_in.get(reverse("site_detail", args=[site.pk])))

    row = re.search(r'data-location="ap-south">(.*?)</tr>', page, re.S).group(1)
    assert "location-state--stale" in row and '<span class="muted">No</span>' in row


def test_a_site_checked_only_by_the_central_workers_has_no_locations_table(client_in):
    site = site_create(project=alice_project(), url="http://127.0.0.1:8002/")

    page = text_of(client_in.get(reverse("site_detail", args=[site.pk])))

    assert 'id="locations-title"' not in page


def test_another_projects_member_cannot_see_a_sites_locations(client, site, three):
    seen_as(site, three[0], "down")
    bob = get_user_model().objects.create_user(username="bob", password="s3cret-pass")
    project_create(name="Bob's", user=bob)
    client.force_login(bob)

    for name in ("site_detail", "site_detail_part", "site_chart_part", "site_edit"):
        assert client.get(reverse(name, args=[site.pk])).status_code == 404, name
    assert "Frankfurt" not in text_of(client.get(reverse("dashboard")))


# --- the chart, split by location ----------------------------------------------------


def add_checks(site: Site, location: Location, *response_ms: int) -> None:
    now = timezone.now()
    Check.objects.bulk_create(
        Check(
            site=site,
            location=location,
            up=True,
            status_code=200,
            response_ms=ms,
            checked_at=now - timedelta(minutes=10 * (i + 1)),
        )
        for i, ms in enumerate(response_ms)
    )


def test_the_chart_splits_the_last_day_by_location(client_in, site, three):
    add_checks(site, three[0], 100, 120)
    add_checks(site, three[1], 300)

    response = client_in.get(reverse("site_chart_part", args=[site.pk]) + "?range=24h&by=location")

    page = text_of(response)
    lines = re.findall(
        r'<path class="[^"]*chart__line--location[^"]*" data-location="([a-z-]+)" d="([^"]*)"', page
    )
    assert [name for name, _ in lines] == ["eu-west", "us-east"]
    assert all(path.startswith("M") for _, path in lines)
    assert "chart__line--avg" not in page
    assert "&lt;b&gt;Frankfurt&lt;/b&gt; (110 ms average)" in page
    assert "Virginia (300 ms average)" in page
    assert 'aria-current="true" title="One line per location' in page
    assert "by=location" in re.search(r'id="site-chart"[^>]*hx-get="([^"]*)"', page).group(1)


def test_the_chart_is_overall_without_the_switch_and_on_the_longer_ranges(client_in, site, three):
    add_checks(site, three[0], 100)
    url = reverse("site_chart_part", args=[site.pk])

    overall = text_of(client_in.get(url + "?range=24h"))
    week = text_of(client_in.get(url + "?range=7d&by=location"))

    assert "chart__line--avg" in overall and "chart__line--location" not in overall
    assert 'title="One line per location' in overall
    assert "chart__line--location" not in week and "by location" not in week


def test_the_monitor_page_takes_the_switch_too(client_in, site, three):
    add_checks(site, three[1], 200)

    page = text_of(client_in.get(reverse("site_detail", args=[site.pk]) + "?by=location"))

    assert 'data-location="us-east" d="M' in page


# --- the edit form -----------------------------------------------------------------


def edit(client, site, **fields):
    body = {"interval": "60", "timeout": "10", "failure_threshold": "2", **fields}
    return client.post(reverse("site_edit", args=[site.pk]), body)


def test_the_edit_form_offers_the_enabled_locations_and_saves_the_choice(client_in, site, three):
    Location.objects.create(name="off", enabled=False)

    form = client_in.get(reverse("site_edit", args=[site.pk])).context["form"]
    assert [name for name, _ in form.fields["locations"].choices] == [
        "default",
        "eu-west",
        "us-east",
        "ap-south",
    ]
    assert sorted(form["locations"].value()) == ["ap-south", "eu-west", "us-east"]

    response = edit(
        client_in, site, locations=["eu-west", "us-east"], quorum="2", notify_regional="on"
    )

    assert response.status_code == 302
    site.refresh_from_db()
    assert sorted(site.locations.values_list("name", flat=True)) == ["eu-west", "us-east"]
    assert site.quorum == 2 and site.notify_regional is True


def test_the_edit_form_shows_a_bad_quorum_or_location_on_its_field(client_in, site):
    too_many = edit(client_in, site, quorum="65", locations=["eu-west"])
    unknown = edit(client_in, site, locations=["nowhere"])

    assert "quorum" in too_many.context["form"].errors
    assert "locations" in unknown.context["form"].errors
    site.refresh_from_db()
    assert site.quorum is None and site.locations.count() == 3
