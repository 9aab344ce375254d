"""Editing, pausing, resuming and checking a site from the dashboard and the site page."""

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from monitor.models import Check
from sites.models import Site
from sites.services import site_create
from teams.models import AuditEvent
from tests.teams.pages_helpers import make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(user):
    return make_team()


@pytest.fixture
def site(team):
    return site_create(project=team.project, url="http://127.0.0.1:9/", name="Backend")


def as_(client, user):
    client.force_login(user)
    return client


def text_of(response):
    return response.content.decode().replace("\xa0", " ")


def test_an_editor_edits_name_interval_and_timeout(client, team, site):
    as_(client, team.editor)

    form = client.get(reverse("site_edit", args=[site.pk]))
    response = client.post(
        reverse("site_edit", args=[site.pk]),
        {"name": "API", "interval": "120", "timeout": "7"},
        follow=True,
    )

    assert 'value="Backend"' in text_of(form)
    assert response.redirect_chain == [(reverse("site_detail", args=[site.pk]), 302)]
    site.refresh_from_db()
    assert (site.name, site.interval, site.timeout) == ("API", 120, 7)
    event = AuditEvent.objects.get(action="site.changed")
    assert (event.actor, event.project) == (team.editor, team.project)


def test_an_invalid_edit_shows_the_error_and_changes_nothing(client, team, site):
    response = as_(client, team.editor).post(
        reverse("site_edit", args=[site.pk]), {"name": "X", "interval": "20", "timeout": "30"}
    )

    assert response.status_code == 200
    assert 'class="field field--invalid"' in text_of(response)
    site.refresh_from_db()
    assert (site.name, site.interval, site.timeout) == ("Backend", 60, 10)


def test_pausing_and_resuming_from_the_dashboard_returns_to_it(client, team, site):
    as_(client, team.editor)

    paused = client.post(reverse("site_pause", args=[site.pk]), {"next": "/"}, follow=True)
    site.refresh_from_db()
    assert site.enabled is False
    assert paused.redirect_chain == [("/", 302)]
    assert "Paused Backend." in text_of(paused)

    resumed = client.post(reverse("site_resume", args=[site.pk]), {"next": "/"})
    site.refresh_from_db()
    assert site.enabled is True
    assert resumed["Location"] == "/"


def test_the_next_address_never_leads_off_site(client, team, site):
    response = as_(client, team.editor).post(
        reverse("site_pause", args=[site.pk]), {"next": "https://evil.example.invalid/"}
    )

    assert response["Location"] == reverse("site_detail", args=[site.pk])


def test_check_now_probes_the_site_and_records_the_result(client, team, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    site = site_create(project=team.project, url=httpserver.url_for("/"), name="Local")

    response = as_(client, team.editor).post(reverse("site_check", args=[site.pk]), follow=True)

    assert "Local is up (200)." in text_of(response)
    check = Check.objects.get(site=site)
    assert (check.up, check.status_code) == (True, 200)


def test_check_now_of_a_refused_site_says_why_and_shows_no_response_time(client, team, refused_url):
    site = site_create(project=team.project, url=refused_url, name="Gone")

    response = as_(client, team.owner).post(reverse("site_check", args=[site.pk]), follow=True)

    page = text_of(response)
    assert "Gone is down: Connection refused" in page
    check = Check.objects.get(site=site)
    assert check.status_code is None
    assert "<dt>Response</dt><dd>—" in page
    assert " 0 ms" not in page


@pytest.mark.parametrize("route", ["site_pause", "site_resume", "site_check", "site_edit"])
def test_a_viewers_writes_answer_403(client, team, site, route):
    response = as_(client, team.viewer).post(
        reverse(route, args=[site.pk]), {"name": "X", "interval": "60", "timeout": "5"}
    )

    assert response.status_code == 403
    site.refresh_from_db()
    assert (site.name, site.enabled) == ("Backend", True)
    assert not Check.objects.exists()


@pytest.mark.parametrize("route", ["site_pause", "site_resume", "site_check", "site_edit"])
def test_an_outsiders_writes_answer_404(client, team, site, route):
    response = as_(client, team.outsider).post(reverse(route, args=[site.pk]))

    assert response.status_code == 404
    assert not Check.objects.exists()


def test_a_viewer_sees_no_write_buttons_on_the_dashboard_or_the_site_page(client, team, site):
    as_(client, team.viewer)

    for page in (
        text_of(client.get(reverse("dashboard"))),
        text_of(client.get(reverse("site_detail", args=[site.pk]))),
    ):
        assert "Backend" in page
        for route in ("site_check", "site_pause", "site_edit", "site_delete"):
            assert reverse(route, args=[site.pk]) not in page


@pytest.mark.parametrize("role", ["owner", "admin", "editor"])
def test_editors_and_above_see_the_write_buttons(client, team, site, role):
    as_(client, team.member(role))

    for page in (
        text_of(client.get(reverse("dashboard"))),
        text_of(client.get(reverse("site_detail", args=[site.pk]))),
    ):
        for route in ("site_check", "site_pause", "site_edit", "site_delete"):
            assert reverse(route, args=[site.pk]) in page


def test_a_paused_site_offers_resume(client, team, site):
    Site.objects.filter(pk=site.pk).update(enabled=False)

    page = text_of(as_(client, team.editor).get(reverse("site_detail", args=[site.pk])))

    assert reverse("site_resume", args=[site.pk]) in page
    assert reverse("site_pause", args=[site.pk]) not in page


def test_the_site_page_polls_its_own_fragment(client, team, site):
    page = text_of(as_(client, team.viewer).get(reverse("site_detail", args=[site.pk])))

    assert f'hx-get="{reverse("site_detail_part", args=[site.pk])}"' in page
    assert 'hx-trigger="every 5s"' in page


def test_the_site_fragment_is_only_the_live_part_and_never_cached(client, team, site):
    response = as_(client, team.viewer).get(
        reverse("site_detail_part", args=[site.pk]), headers={"HX-Request": "true"}
    )

    page = text_of(response)
    assert page.lstrip().startswith('<div id="site-detail"')
    assert "<html" not in page
    assert "Backend" in page
    assert "no-cache" in response["Cache-Control"]


def test_an_outsider_gets_404_for_the_site_page_and_its_fragment(client, team, site):
    as_(client, team.outsider)

    assert client.get(reverse("site_detail", args=[site.pk])).status_code == 404
    assert client.get(reverse("site_detail_part", args=[site.pk])).status_code == 404
    assert client.get(reverse("site_edit", args=[site.pk])).status_code == 404


def test_a_long_name_and_url_carry_their_full_text_in_a_title(client, team):
    long_url = "http://127.0.0.1:9/" + "very-long-path/" * 40
    long_name = "A monitored service with a remarkably long name " * 4
    site_create(project=team.project, url=long_url, name=long_name.strip())

    page = text_of(as_(client, team.owner).get(reverse("dashboard")))

    assert 'class="site__name" href="/sites/' in page
    assert f'title="{long_name.strip()}"' in page
    assert f'target="_blank" title="{long_url}">{long_url}</a>' in page


def test_the_stylesheet_truncates_long_names_and_urls_in_the_list():
    css = open(finders.find("sites/uptime.css")).read()
    for rule in (".site__name {", ".site__url {"):
        block = css[css.index(rule) : css.index("}", css.index(rule))]
        assert "text-overflow: ellipsis" in block and "overflow: hidden" in block
