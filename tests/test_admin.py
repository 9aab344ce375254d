"""The admin for sites (with their recent checks) and transitions, as a superuser and others."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitor.checking import check_sites
from monitor.models import Check, Transition
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project

SITES = reverse("admin:sites_site_changelist")
TRANSITIONS = reverse("admin:monitor_transition_changelist")


@pytest.fixture
def down_site(db, refused_url):
    """A site on a closed port, checked once: one Check, one Transition to down."""
    site = site_create(project=alice_project(), url=refused_url, name="Closed port")
    check_sites([site.id])
    return site


def site_form(**overrides) -> dict:
    data = {
        "project": str(alice_project().pk),
        "url": "",
        "name": "",
        "interval": "60",
        "timeout": "10",
        "enabled": "on",
        "kind": "http",
        "failure_threshold": "1",
        "success_threshold": "1",
        "retry_interval": "20",
        "options": "{}",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def act(client, action: str, *sites: Site):
    return client.post(
        SITES,
        {"action": action, "_selected_action": [s.id for s in sites]},
        follow=True,
    )


# --- changelists ------------------------------------------------------------


@pytest.mark.parametrize("url", [SITES, TRANSITIONS])
def test_each_changelist_renders_for_a_superuser(admin_client, down_site, url):
    response = admin_client.get(url)

    assert response.status_code == 200
    assert "Closed port" in response.text


def test_the_site_changelist_shows_status_and_reason(admin_client, down_site):
    response = admin_client.get(SITES)

    assert "Down</strong>" in response.text
    assert "Connection refused" in response.text


def test_searching_sites_matches_name_and_url(admin_client, db):
    site_create(project=alice_project(), url="http://127.0.0.1:8001/", name="Billing")
    site_create(project=alice_project(), url="http://127.0.0.1:8002/", name="Search")

    by_name = admin_client.get(SITES, {"q": "billing"}).text
    by_url = admin_client.get(SITES, {"q": "8002"}).text

    assert "Billing" in by_name and "127.0.0.1:8002" not in by_name
    assert "Search" in by_url and "127.0.0.1:8001" not in by_url


def test_the_site_page_shows_its_recent_checks_newest_first(admin_client, down_site):
    Check.objects.create(
        site=down_site,
        checked_at=timezone.now() + timedelta(minutes=1),
        up=False,
        error_kind="timeout",
        error_message="Timed out after 10 s",
    )
    response = admin_client.get(reverse("admin:sites_site_change", args=[down_site.id]))

    text = response.text
    assert text.index("<td>Timed out after 10 s</td>") < text.index("<td>Connection refused</td>")


# --- actions ----------------------------------------------------------------


def test_check_now_records_a_check_even_for_a_disabled_site(admin_client, db, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    site = site_create(project=alice_project(), url=httpserver.url_for("/"), enabled=False)

    response = act(admin_client, "check_now", site)

    site.refresh_from_db()
    assert Check.objects.filter(site=site, up=True).count() == 1
    assert site.status == Site.Status.UP
    assert "Checked 1 site(s): 1 up, 0 down." in response.text


def test_check_now_counts_the_sites_that_are_down(admin_client, down_site, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    up = site_create(project=alice_project(), url=httpserver.url_for("/"))

    response = act(admin_client, "check_now", down_site, up)

    assert "Checked 2 site(s): 1 up, 1 down." in response.text


def test_pause_then_resume_toggles_and_resuming_makes_the_site_due_now(admin_client, db):
    site = site_create(project=alice_project(), url="http://127.0.0.1:8080/")
    Site.objects.filter(pk=site.pk).update(next_check_at=timezone.now() + timedelta(days=1))

    paused = act(admin_client, "pause", site)
    site.refresh_from_db()
    assert not site.enabled
    assert "Paused 1 site(s)." in paused.text

    before = timezone.now()
    resumed = act(admin_client, "resume", site)
    site.refresh_from_db()
    assert site.enabled
    assert site.next_check_at >= before
    assert "Resumed 1 site(s)." in resumed.text


def test_resume_reports_a_site_whose_address_is_now_refused(admin_client, db, settings):
    site = site_create(project=alice_project(), url="http://127.0.0.1:8080/", enabled=False)
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False

    response = act(admin_client, "resume", site)

    site.refresh_from_db()
    assert not site.enabled
    assert "resolves to a non-public address" in response.text
    assert "Resumed 0 site(s)." in response.text


# --- adding and editing -----------------------------------------------------


def test_adding_a_site_normalises_the_url_and_schedules_a_check(admin_client, db):
    before = timezone.now()

    response = admin_client.post(
        reverse("admin:sites_site_add"), site_form(url="HTTP://127.0.0.1:8080", name="App")
    )

    site = Site.objects.get()
    assert response.status_code == 302
    assert site.url == "http://127.0.0.1:8080/"
    assert site.next_check_at >= before


def test_adding_a_site_with_a_timeout_over_its_interval_shows_the_error(admin_client, db):
    response = admin_client.post(
        reverse("admin:sites_site_add"),
        site_form(url="http://127.0.0.1:8080/", interval="20", timeout="30"),
    )

    assert response.status_code == 200
    assert "cannot be longer than the interval" in response.text
    assert not Site.objects.exists()


def test_adding_a_duplicate_url_shows_the_error(admin_client, db):
    site_create(project=alice_project(), url="http://127.0.0.1:8080/")

    response = admin_client.post(
        reverse("admin:sites_site_add"), site_form(url="HTTP://127.0.0.1:8080")
    )

    assert "A site with this URL is already monitored in this project." in response.text
    assert Site.objects.count() == 1


def test_editing_keeps_the_url_and_reenabling_makes_the_site_due_now(admin_client, db):
    site = site_create(project=alice_project(), url="http://127.0.0.1:8080/", enabled=False)
    Site.objects.filter(pk=site.pk).update(next_check_at=timezone.now() - timedelta(days=1))
    before = timezone.now()

    response = admin_client.post(
        reverse("admin:sites_site_change", args=[site.id]),
        site_form(url="http://127.0.0.1:9999/", name="Renamed", enabled="on"),
    )

    site.refresh_from_db()
    assert response.status_code == 302
    assert (site.url, site.name, site.enabled) == ("http://127.0.0.1:8080/", "Renamed", True)
    assert site.next_check_at >= before


def test_the_url_of_an_existing_site_is_shown_but_not_editable(admin_client, db):
    site = site_create(project=alice_project(), url="http://127.0.0.1:8080/")

    form = (
        admin_client.get(reverse("admin:sites_site_change", args=[site.id]))
        .context["adminform"]
        .form
    )

    assert form.fields["url"].disabled
    assert form.initial["url"] == site.url


def test_editing_a_site_whose_address_is_now_refused_shows_why(admin_client, db, settings):
    site = site_create(project=alice_project(), url="http://127.0.0.1:8080/")
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False

    response = admin_client.post(
        reverse("admin:sites_site_change", args=[site.id]), site_form(name="Renamed")
    )

    site.refresh_from_db()
    assert response.status_code == 200
    assert "resolves to a non-public address" in response.text
    assert site.name == ""


def test_deleting_a_site_in_the_admin_takes_its_checks_and_transitions(admin_client, down_site):
    response = admin_client.post(
        reverse("admin:sites_site_delete", args=[down_site.id]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Site.objects.exists()
    assert not Check.objects.exists()
    assert not Transition.objects.exists()


# --- read-only records and access -------------------------------------------


def test_transitions_cannot_be_added_or_changed(admin_client, down_site):
    change_url = reverse("admin:monitor_transition_change", args=[Transition.objects.get().id])

    assert admin_client.get(reverse("admin:monitor_transition_add")).status_code == 403
    assert admin_client.post(change_url, {}).status_code == 403
    assert 'name="_save"' not in admin_client.get(change_url).text
    assert "Connection refused" in admin_client.get(change_url).text  # the check's facts


@pytest.mark.parametrize("url", [SITES, TRANSITIONS])
def test_a_user_who_is_not_staff_is_sent_to_the_login_page(client, user, url):
    client.force_login(user)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
