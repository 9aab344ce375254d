"""The admin of locations, and a site's locations and quorum in the site admin."""

import pytest
from django.urls import reverse
from django.utils import timezone

from monitor.models import Check, Location
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project
from tests.monitor.location_helpers import live_location
from tests.test_admin import site_form

pytestmark = pytest.mark.django_db


def test_the_location_changelist_and_page_render_with_the_heartbeat_read_only(admin_client):
    location = live_location("eu-west", "<b>Frankfurt</b>", hostname="probe-1")

    listing = admin_client.get(reverse("admin:monitor_location_changelist"))
    page = admin_client.get(reverse("admin:monitor_location_change", args=[location.pk]))

    assert listing.status_code == 200 and "eu-west" in listing.text
    assert "<b>Frankfurt</b>" not in listing.text
    assert page.status_code == 200
    form_fields = page.context["adminform"].form.fields
    assert set(form_fields) == {"label", "enabled"}
    assert 'name="token_version"' not in page.text and 'name="last_seen_at"' not in page.text


def test_adding_a_location_in_the_admin_checks_its_name(admin_client):
    url = reverse("admin:monitor_location_add")

    refused = admin_client.post(url, {"name": "eu_west", "label": "", "enabled": "on"})
    added = admin_client.post(url, {"name": "eu-west", "label": "Frankfurt", "enabled": "on"})

    assert refused.status_code == 200 and "is not a location name" in refused.text
    assert added.status_code == 302
    assert Location.objects.get(name="eu-west").label == "Frankfurt"


def test_a_location_checks_name_cannot_be_deleted_in_the_admin(admin_client):
    location = live_location("eu-west")
    site = site_create(project=alice_project(), url="http://127.0.0.1:8001/")
    Check.objects.create(site=site, location=location, up=True, checked_at=timezone.now())

    response = admin_client.get(reverse("admin:monitor_location_delete", args=[location.pk]))

    assert response.status_code == 403


def test_the_site_admin_sets_locations_quorum_and_regional_alerts(admin_client):
    eu, us = live_location("eu-west"), live_location("us-east")
    site = site_create(project=alice_project(), url="http://127.0.0.1:8080/")

    response = admin_client.post(
        reverse("admin:sites_site_change", args=[site.id]),
        site_form(locations=[str(eu.pk), str(us.pk)], quorum="2", notify_regional="on"),
    )

    assert response.status_code == 302
    site.refresh_from_db()
    assert sorted(site.locations.values_list("name", flat=True)) == ["eu-west", "us-east"]
    assert site.quorum == 2 and site.notify_regional is True


def test_the_site_admin_refuses_a_quorum_out_of_range(admin_client):
    response = admin_client.post(
        reverse("admin:sites_site_add"), site_form(url="http://127.0.0.1:8080/", quorum="65")
    )

    assert response.status_code == 200 and "quorum" in response.context["adminform"].form.errors
    assert not Site.objects.exists()
