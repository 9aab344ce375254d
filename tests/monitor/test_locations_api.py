"""/api/locations: anyone signed in lists them; only staff add, change and remove them."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from monitor.locations import location_token
from monitor.models import Check, Location
from monitor.packing import pack_checks
from sites.services import site_create
from teams.tokens import token_create
from tests.factories import alice_project
from tests.monitor.location_helpers import live_location, stale_location

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client():
    admin = get_user_model().objects.create_user(
        username="root", password="s3cret-pass", is_staff=True
    )
    _, key = token_create(user=admin, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_anyone_signed_in_lists_every_location_with_its_heartbeat(api_client):
    live_location("eu-west", "Frankfurt", hostname="probe-1.example.invalid")
    stale_location("us-east")
    Location.objects.create(name="off", enabled=False)
    Location.objects.filter(name="eu-west").update(network_down_since=timezone.now())

    response = api_client.get("/api/locations")

    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()["locations"]}
    assert list(rows) == ["default", "eu-west", "us-east", "off"]
    assert rows["eu-west"]["label"] == "Frankfurt"
    assert rows["eu-west"]["hostname"] == "probe-1.example.invalid"
    assert rows["eu-west"]["stale"] is False and rows["eu-west"]["networkDown"] is True
    assert rows["eu-west"]["lastSeenAt"].endswith("Z")
    assert rows["us-east"]["stale"] is True and rows["us-east"]["networkDown"] is False
    # Disabled: not expected to report, so not stale either.
    assert rows["off"]["enabled"] is False and rows["off"]["stale"] is False
    assert rows["default"]["lastSeenAt"] is None
    assert all("token" not in row for row in rows.values())


def test_locations_need_a_login(anon_client):
    assert anon_client.get("/api/locations").status_code == 401


def test_staff_add_a_location_and_get_its_token_and_probe_command_once(staff_client):
    response = staff_client.post(
        "/api/locations", {"name": "eu-west", "label": "Frankfurt"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    location = Location.objects.get(name="eu-west")
    assert body["name"] == "eu-west" and body["label"] == "Frankfurt" and body["enabled"]
    assert body["token"] == location_token(location)
    assert "UPTIME_LOCATION=eu-west " in body["command"]
    assert f"UPTIME_LOCATION_TOKEN={body['token']} " in body["command"]
    assert body["command"].endswith("make probe")
    assert "UPTIME_LOCATION=eu-west " in body["command"]
    listed = staff_client.get("/api/locations").json()["locations"]
    assert all("token" not in row for row in listed)


def test_others_may_not_add_change_or_remove_locations(api_client):
    live_location("eu-west")

    responses = [
        api_client.post("/api/locations", {"name": "us-east"}, format="json"),
        api_client.patch("/api/locations/eu-west", {"label": "X"}, format="json"),
        api_client.patch("/api/locations/eu-west", {"rotateToken": True}, format="json"),
        api_client.delete("/api/locations/eu-west"),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    location = Location.objects.get(name="eu-west")
    assert location.label == "" and location.token_version == 1
    assert not Location.objects.filter(name="us-east").exists()


@pytest.mark.parametrize(
    "name",
    ["EU-West", "eu_west", "-eu", "eu west", "x" * 33, "", "ü", "default", ["eu"], None],
)
def test_a_bad_or_taken_name_is_a_400_naming_name(staff_client, name):
    response = staff_client.post("/api/locations", {"name": name}, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"name"}
    assert Location.objects.count() == 1


def test_a_duplicate_name_says_so(staff_client):
    live_location("eu-west")

    response = staff_client.post("/api/locations", {"name": "eu-west"}, format="json")

    assert response.status_code == 400
    assert "exists already" in response.json()["name"][0]


def test_unknown_fields_are_named(staff_client):
    response = staff_client.post("/api/locations", {"name": "eu", "token": "x"}, format="json")

    assert response.status_code == 400 and set(response.json()) == {"token"}


def test_staff_change_a_label_and_disable_and_enable_a_location(staff_client):
    live_location("eu-west")

    response = staff_client.patch(
        "/api/locations/eu-west", {"label": "Frankfurt", "enabled": False}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["label"] == "Frankfurt" and response.json()["enabled"] is False
    assert "token" not in response.json()
    assert not Location.objects.get(name="eu-west").enabled
    staff_client.patch("/api/locations/eu-west", {"enabled": True}, format="json")
    assert Location.objects.get(name="eu-west").enabled


def test_rotating_a_token_revokes_the_old_one(staff_client):
    location = live_location("eu-west")
    old = location_token(location)

    response = staff_client.patch("/api/locations/eu-west", {"rotateToken": True}, format="json")

    assert response.status_code == 200
    location.refresh_from_db()
    assert location.token_version == 2
    assert response.json()["token"] == location_token(location) != old
    assert response.json()["token"] in response.json()["command"]


@pytest.mark.parametrize(
    "body, field",
    [({}, "non_field_errors"), ({"enabled": "perhaps"}, "enabled"), ({"name": "x"}, "name")],
)
def test_a_bad_change_is_a_400_naming_the_field(staff_client, body, field):
    live_location("eu-west")

    response = staff_client.patch("/api/locations/eu-west", body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()


def test_the_default_location_cannot_be_removed_nor_be_the_last_one_disabled(staff_client):
    disabled = staff_client.patch("/api/locations/default", {"enabled": False}, format="json")
    removed = staff_client.delete("/api/locations/default")

    assert disabled.status_code == 400 and set(disabled.json()) == {"enabled"}
    assert removed.status_code == 400 and set(removed.json()) == {"name"}
    assert Location.objects.get(name="default").enabled


def test_the_central_workers_stop_probing_once_another_location_checks(staff_client):
    live_location("eu-west")
    disabled = staff_client.patch("/api/locations/default", {"enabled": False}, format="json")

    assert disabled.status_code == 200, disabled.content
    assert not Location.objects.get(name="default").enabled


def test_an_unused_location_is_deleted(staff_client):
    live_location("eu-west")

    assert staff_client.delete("/api/locations/eu-west").status_code == 204
    assert not Location.objects.filter(name="eu-west").exists()


def test_a_location_checks_name_is_disabled_rather_than_deleted(staff_client):
    location = live_location("eu-west")
    site = site_create(project=alice_project(), url="http://127.0.0.1:8001/")
    Check.objects.create(
        site=site, location=location, up=True, checked_at=timezone.now() - timedelta(minutes=1)
    )

    response = staff_client.delete("/api/locations/eu-west")

    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert Location.objects.get(name="eu-west").enabled is False


def test_a_location_named_only_by_packed_checks_is_disabled_too(staff_client):
    location = live_location("eu-west")
    site = site_create(project=alice_project(), url="http://127.0.0.1:8001/")
    Check.objects.create(
        site=site, location=location, up=True, checked_at=timezone.now() - timedelta(hours=3)
    )
    assert pack_checks(older_than=timezone.now()) == 1

    response = staff_client.delete("/api/locations/eu-west")

    assert response.status_code == 200
    assert Location.objects.get(name="eu-west").enabled is False


def test_an_unknown_location_is_404(staff_client):
    assert (
        staff_client.patch("/api/locations/nowhere", {"label": "x"}, format="json").status_code
        == 404
    )
    assert staff_client.delete("/api/locations/nowhere").status_code == 404
