"""Heartbeat monitors through the API: created with a ping URL, bad schedules refused by name."""

import pytest

from sites.models import Site
from sites.services import site_update


def create(api_client, **fields):
    return api_client.post("/api/site", {"kind": "heartbeat", **fields}, format="json")


def test_a_heartbeat_monitor_is_created_with_its_ping_url_and_no_target(api_client, settings):
    settings.UPTIME_BASE_URL = "https://uptime.example.com/"

    response = create(api_client, name="nightly backup", period=3600, grace=300)

    assert response.status_code == 201, response.json()
    data = response.json()
    site = Site.objects.get(id=data["id"])
    assert data["kind"] == "heartbeat"
    assert data["url"] == ""
    assert data["pingUrl"] == f"https://uptime.example.com/ping/{site.ping_token}"
    assert (data["period"], data["grace"], data["cron"], data["timezone"]) == (
        3600,
        300,
        "",
        "UTC",
    )
    assert site.next_check_at is None  # pinged, never probed


def test_a_cron_schedule_takes_a_time_zone(api_client):
    response = create(api_client, cron="0  3 * * 1-5", timezone="Europe/Paris")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["cron"], data["timezone"], data["period"], data["grace"]) == (
        "0 3 * * 1-5",
        "Europe/Paris",
        None,
        60,
    )


def test_two_heartbeat_monitors_in_one_project_are_two_monitors(api_client):
    first = create(api_client, period=60)
    second = create(api_client, period=60)

    assert first.status_code == second.status_code == 201
    assert first.json()["pingUrl"] != second.json()["pingUrl"]


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"cron": "0 3 * *"}, "cron", "Five fields"),
        ({"cron": "61 * * * *"}, "cron", "not a valid cron expression"),
        ({"cron": "0 0 3 * * *"}, "cron", "Five fields"),
        ({"cron": 5}, "cron", "as text"),
        ({"period": 3600, "cron": "0 3 * * *"}, "cron", "not both"),
        ({}, "period", "Set a period"),
        ({"period": 59}, "period", "60 to 2592000"),
        ({"period": 2_592_001}, "period", "60 to 2592000"),
        ({"period": "3600"}, "period", "whole number"),
        ({"period": 60, "grace": -1}, "grace", "0 to 86400"),
        ({"period": 60, "grace": 86_401}, "grace", "0 to 86400"),
        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "timezone", "Unknown time zone"),
        ({"cron": "0 3 * * *", "timezone": "../../etc/localtime"}, "timezone", "Unknown"),
        ({"cron": "0 3 * * *", "timezone": ""}, "timezone", "IANA"),
        ({"period": 60, "port": 80}, "port", "does not apply"),
    ],
)
def test_a_bad_schedule_is_refused_with_400_naming_the_field(api_client, fields, field, reason):
    response = create(api_client, **fields)

    assert response.status_code == 400, response.json()
    errors = response.json()
    assert field in errors, errors
    assert reason in " ".join(errors[field]), errors


def test_cron_beside_a_stored_period_is_refused_naming_cron(api_client):
    site_id = create(api_client, period=3600).json()["id"]

    response = api_client.patch(f"/api/site/{site_id}", {"cron": "0 3 * * *"}, format="json")

    assert response.status_code == 400
    assert "not both" in response.json()["cron"][0]


def test_switching_from_a_period_to_cron_clears_the_period(api_client):
    site = Site.objects.get(id=create(api_client, period=3600).json()["id"])

    site_update(site=site, options={"cron": "0 3 * * *", "period": None})

    site.refresh_from_db()
    assert (site.options["cron"], site.options["period"]) == ("0 3 * * *", None)
