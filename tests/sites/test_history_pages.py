"""The monitor page's history through HTTP: uptime, chart, 90 days, incidents and notes."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitor.history import add_to_rollups
from monitor.models import Check, CheckBlock, IncidentNote, Transition
from monitor.packing import pack_checks
from sites.models import Site
from teams.models import Membership, Role
from tests.factories import alice_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def make_site(**fields) -> Site:
    now = timezone.now()
    return Site.objects.create(
        project=alice_project(),
        url="https://api.example.invalid/",
        name="API",
        status="up",
        created_at=now - timedelta(days=2),
        status_changed_at=now - timedelta(days=2),
        **fields,
    )


def add_checks(site, count, *, every=timedelta(minutes=1)):
    now = timezone.now()
    made = [
        Check(site=site, checked_at=now - every * (i + 1), up=i % 10 != 3, response_ms=100 + i % 50)
        for i in range(count)
    ]
    Check.objects.bulk_create(made)
    add_to_rollups((c.site_id, c.checked_at, c.up, c.response_ms) for c in made)


def downtime(site, *, minutes_ago=90, lasted=15):
    start = timezone.now() - timedelta(minutes=minutes_ago)
    check = Check.objects.create(
        site=site, checked_at=start, up=False, error_kind="timeout", error_message="Timed out"
    )
    down = Transition.objects.create(
        site=site, created_at=start, from_status="up", to_status="down", check_result=check
    )
    Transition.objects.create(
        site=site, created_at=start + timedelta(minutes=lasted), from_status="down", to_status="up"
    )
    return down


def text_of(response):
    return response.content.decode().replace("\xa0", " ")


def test_the_page_shows_uptime_for_four_periods_with_what_was_excluded(client_in):
    site = make_site()
    downtime(site, minutes_ago=90, lasted=15)

    page = text_of(client_in.get(reverse("site_detail", args=[site.pk])))

    for key in ("24h", "7d", "30d", "365d"):
        assert f'data-uptime="{key}"' in page
    figure = re.search(r'data-uptime="24h".*?</div>', page, re.S).group(0)
    # 15 minutes down of the 2 days it has been monitored (24 h of them in range).
    assert "98.958 %" in figure
    assert "15 min down" in figure


def test_maintenance_left_out_of_uptime_is_shown(client_in):
    from monitor.maintenance import maintenance_create

    site = make_site()
    now = timezone.now()
    maintenance_create(
        project=site.project,
        title="Deploy",
        starts_at=now - timedelta(hours=3),
        ends_at=now - timedelta(hours=3) + timedelta(minutes=12),
        sites=[site],
    )

    page = text_of(client_in.get(reverse("site_detail", args=[site.pk])))

    figure = re.search(r'data-uptime="24h".*?</div>', page, re.S).group(0)
    assert "12 min maintenance excluded" in figure
    assert "100.000 %" in figure


def test_the_page_draws_the_response_time_chart_as_svg(client_in):
    site = make_site()
    add_checks(site, 120)

    page = text_of(client_in.get(reverse("site_detail", args=[site.pk])))

    chart = r'<svg class="chart" data-chart="response-time".*?</svg>\s*<ul class="legend'
    svg = re.search(chart, page, re.S)
    assert svg, "no chart"
    svg = svg.group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "120 checks in the last 24 hours" in svg
    assert re.search(r'class="chart__line chart__line--avg" d="M[\d. L]+"', svg)
    assert "failed check" in svg
    assert "style=" not in svg
    # The 24-hour range is chosen, and each range is a link that works without script.
    assert re.search(r'href="[^"]*\?range=24h#site-chart"[^>]*aria-current="true"', page)
    for key in ("7d", "30d", "1y"):
        assert f'?range={key}#site-chart"' in page


def test_the_range_picks_the_rollups(client_in):
    site = make_site()
    add_checks(site, 30, every=timedelta(hours=5))

    response = client_in.get(reverse("site_chart_part", args=[site.pk]), {"range": "7d"})

    page = text_of(response)
    assert response.status_code == 200
    assert 'data-range="7d"' in page
    assert "Response time, last 7 days" in page
    assert "<html" not in page
    assert re.search(r'\?range=7d#site-chart"[^>]*aria-current="true"', page)


def test_the_page_shows_the_last_90_days_with_each_days_figure(client_in):
    site = make_site()

    page = text_of(client_in.get(reverse("site_detail", args=[site.pk])))

    cells = re.findall(r'<li class="day day--(\w+)" tabindex="0" title="([^"]+)"', page)
    assert len(cells) == 90
    # Created two days ago: older days have no data, the last ones are up.
    assert cells[0] == (cells[0][0], cells[0][1]) and cells[0][0] == "none"
    assert cells[0][1].endswith(": no data")
    assert cells[-1][0] == "up"
    assert cells[-1][1].endswith(": 100.000 % up")


def test_the_uptime_part_refreshes_on_its_own(client_in):
    site = make_site()

    response = client_in.get(reverse("site_uptime_part", args=[site.pk]))

    assert response.status_code == 200
    assert b'data-uptime="365d"' in response.content
    assert b"<html" not in response.content


def test_a_certificate_expiring_soon_is_a_warning(client_in):
    site = make_site(cert_expires_at=timezone.now() + timedelta(days=5, hours=2))

    page = text_of(client_in.get(reverse("site_detail", args=[site.pk])))

    assert 'class="cert--warning"' in page
    assert "5 days left" in page


def test_the_incident_list_shows_each_downtime(client_in):
    site = make_site()
    down = downtime(site)
    IncidentNote.objects.create(site=site, transition=down, author_name="alice", text="DB restart")

    page = text_of(client_in.get(reverse("site_detail", args=[site.pk])))

    incident = re.search(rf'id="incident-{down.pk}".*?</li>\s*</ol>', page, re.S).group(0)
    assert "Timed out" in incident
    assert "(15 min)" in incident
    assert "DB restart" in incident
    assert 'name="text"' in incident


def test_an_editor_adds_a_note_from_the_page(client_in):
    site = make_site()
    down = downtime(site)

    response = client_in.post(
        reverse("incident_note_add", args=[site.pk, down.pk]), {"text": "Looking into it"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('site_detail', args=[site.pk])}#incident-{down.pk}"
    assert IncidentNote.objects.get().text == "Looking into it"


@pytest.mark.parametrize("text", ["  ", "z" * 2001])
def test_a_bad_note_shows_the_page_again_with_400_and_the_error(client_in, text):
    site = make_site()
    down = downtime(site)

    response = client_in.post(reverse("incident_note_add", args=[site.pk, down.pk]), {"text": text})

    assert response.status_code == 400
    page = text_of(response)
    assert f'id="note-{down.pk}-error"' in page
    assert 'aria-invalid="true"' in page
    assert not IncidentNote.objects.exists()


def test_a_viewer_sees_no_note_form_and_cannot_post_one(client, user):
    site = make_site()
    down = downtime(site)
    viewer = get_user_model().objects.create_user(username="vic", password="s3cret-pass")
    Membership.objects.create(project=site.project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)

    page = text_of(client.get(reverse("site_detail", args=[site.pk])))
    response = client.post(reverse("incident_note_add", args=[site.pk, down.pk]), {"text": "Hi"})

    assert f'id="incident-{down.pk}"' in page
    assert 'name="text"' not in page
    assert response.status_code == 403
    assert not IncidentNote.objects.exists()


def test_older_incidents_are_on_pages_of_their_own(client_in):
    site = make_site()
    downs = [downtime(site, minutes_ago=30 * (i + 1), lasted=5) for i in range(25)]

    first = text_of(client_in.get(reverse("site_detail", args=[site.pk])))
    older = text_of(client_in.get(reverse("site_incidents", args=[site.pk]), {"page": 2}))

    assert first.count("data-incident=") == 20
    assert f"{reverse('site_incidents', args=[site.pk])}?page=2" in first
    assert older.count("data-incident=") == 5
    assert f'id="incident-{downs[-1].pk}"' in older


def test_the_page_and_its_parts_take_the_same_queries_whatever_the_number_of_checks(client_in):
    site = make_site()
    downtime(site)
    urls = [
        reverse("site_detail", args=[site.pk]),
        reverse("site_detail_part", args=[site.pk]),
        reverse("site_uptime_part", args=[site.pk]),
        reverse("site_chart_part", args=[site.pk]) + "?range=24h",
        reverse("site_chart_part", args=[site.pk]) + "?range=1y",
    ]

    def counts():
        result = []
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert client_in.get(url).status_code == 200
            result.append(len(queries))
        return result

    add_checks(site, 10)
    few = counts()
    add_checks(site, 1000, every=timedelta(seconds=20))
    pack_checks(older_than=timezone.now() - timedelta(hours=2))
    many = counts()

    assert CheckBlock.objects.exists()
    # With fewer rows than the page lists, the page reads on into the packed
    # hours: one query more for the page and its polled part, never one per check.
    assert many == [few[0] - 1, few[1] - 1, *few[2:]]
    # The polled part does not compute the history.
    assert many[1] < many[0]
