"""Deciding what counts: confirmation, degraded, gaps and pause, through the public API.

Checks run against a real local HTTP server (pytest-httpserver) with
POST /api/check/<id>; a few rules about time (gaps) feed the recorder results
with chosen timestamps, since waiting for hours is not an option.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.dispatch import claim_due_sites
from monitor.models import Check, MonitoringGap, Transition
from monitor.probe import ErrorKind, ProbeResult
from monitor.recording import record_results
from sites.models import Site


def add_monitor(api_client, url, **fields):
    response = api_client.post("/api/site", {"url": url, **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def check(api_client, site_id) -> dict:
    response = api_client.post(f"/api/check/{site_id}")
    assert response.status_code == 200, response.json()
    return api_client.get(f"/api/site/{site_id}").json()


def answer(httpserver, status):
    httpserver.clear_all_handlers()
    httpserver.expect_request("/").respond_with_data("x", status=status)


# --- confirmation -------------------------------------------------------------


def test_a_site_is_down_only_after_failure_threshold_failures_in_a_row(api_client, httpserver):
    answer(httpserver, 200)
    site = add_monitor(api_client, httpserver.url_for("/"), failureThreshold=3)
    assert check(api_client, site["id"])["status"] == "up"

    answer(httpserver, 500)
    for _ in range(2):
        unconfirmed = check(api_client, site["id"])
        assert unconfirmed["status"] == "up"
    assert not Transition.objects.filter(site_id=site["id"]).exists()
    assert check(api_client, site["id"])["status"] == "down"
    assert Transition.objects.filter(site_id=site["id"], to_status="down").count() == 1
    assert Check.objects.filter(site_id=site["id"], up=False).count() == 3  # every check recorded


def test_an_unconfirmed_failure_is_checked_again_after_the_retry_interval(api_client, httpserver):
    answer(httpserver, 200)
    site = add_monitor(
        api_client, httpserver.url_for("/"), interval=300, failureThreshold=2, retryInterval=15
    )
    check(api_client, site["id"])
    Site.objects.filter(pk=site["id"]).update(next_check_at=timezone.now() + timedelta(seconds=300))
    answer(httpserver, 503)
    check(api_client, site["id"])

    stored = Site.objects.get(pk=site["id"])
    assert stored.failures_in_a_row == 1 and stored.status == "up"
    assert stored.next_check_at - stored.last_checked_at == timedelta(seconds=15)


def test_a_down_site_is_up_again_only_after_success_threshold_successes(api_client, httpserver):
    answer(httpserver, 500)
    site = add_monitor(api_client, httpserver.url_for("/"), failureThreshold=1, successThreshold=2)
    assert check(api_client, site["id"])["status"] == "down"
    answer(httpserver, 200)
    assert check(api_client, site["id"])["status"] == "down"
    assert check(api_client, site["id"])["status"] == "up"
    assert list(
        Transition.objects.filter(site_id=site["id"])
        .order_by("created_at")
        .values_list("to_status", flat=True)
    ) == ["down", "up"]


def test_a_success_between_failures_starts_the_count_again(api_client, httpserver):
    answer(httpserver, 200)
    site = add_monitor(api_client, httpserver.url_for("/"), failureThreshold=2)
    for status in (200, 500, 200, 500, 200):
        answer(httpserver, status)
        assert check(api_client, site["id"])["status"] == "up"


def test_new_monitors_need_two_failures_by_default(api_client, httpserver, settings):
    settings.UPTIME_FAILURE_THRESHOLD = 2  # tests/settings.py keeps the seed's 1 for older tests
    answer(httpserver, 500)
    site = add_monitor(api_client, httpserver.url_for("/"))
    assert site["failureThreshold"] == 2
    assert check(api_client, site["id"])["status"] == "unknown"
    assert check(api_client, site["id"])["status"] == "down"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("failureThreshold", 0),
        ("failureThreshold", 11),
        ("successThreshold", 0),
        ("retryInterval", 5),
        ("retryInterval", "soon"),
        ("dependsOn", 0),
        ("paused", "maybe"),
    ],
)
def test_bad_confirmation_settings_are_400_naming_the_field(api_client, field, value):
    response = api_client.post(
        "/api/site", {"url": "http://127.0.0.1:9/", field: value}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not Site.objects.exists()


# --- degraded -----------------------------------------------------------------


def result(site_id, *, at, up=True, kind="", message=""):
    return ProbeResult(
        up=up,
        checked_at=at,
        status_code=200 if up else None,
        response_ms=5,
        error_kind=kind,
        error_message=message,
        site_id=site_id,
    )


def test_degraded_is_a_state_of_its_own_with_transitions_both_ways(api_client):
    site = add_monitor(api_client, "http://127.0.0.1:9/")
    now = timezone.now()
    record_results([result(site["id"], at=now)])
    record_results(
        [result(site["id"], at=now + timedelta(seconds=60), kind=ErrorKind.SLOW, message="slow")]
    )
    shown = api_client.get(f"/api/site/{site['id']}").json()
    assert shown["status"] == "degraded" and shown["up"] is True
    assert shown["error"] == {"kind": "slow", "message": "slow"}

    record_results([result(site["id"], at=now + timedelta(seconds=120))])
    assert [
        (t.from_status, t.to_status)
        for t in Transition.objects.filter(site_id=site["id"]).order_by("created_at")
    ] == [("up", "degraded"), ("degraded", "up")]


# --- gaps -----------------------------------------------------------------------


def test_a_check_long_after_the_previous_one_records_the_gap(api_client):
    site = add_monitor(api_client, "http://127.0.0.1:9/", interval=60)
    start = timezone.now() - timedelta(hours=3)
    record_results([result(site["id"], at=start)])
    record_results([result(site["id"], at=start + timedelta(seconds=61))])  # on time
    assert not MonitoringGap.objects.filter(reason="unchecked").exists()

    late = start + timedelta(hours=2)
    record_results([result(site["id"], at=late)])
    [gap] = MonitoringGap.objects.filter(site_id=site["id"])
    assert gap.started_at == start + timedelta(seconds=61 + 60)  # when the missed check was due
    assert gap.ended_at == late


def test_the_time_a_monitor_was_paused_is_not_a_gap(api_client):
    site = add_monitor(api_client, "http://127.0.0.1:9/", interval=60)
    record_results([result(site["id"], at=timezone.now() - timedelta(hours=2))])
    assert api_client.patch(f"/api/site/{site['id']}", {"paused": True}, format="json").json()[
        "paused"
    ]
    api_client.patch(f"/api/site/{site['id']}", {"paused": False}, format="json")
    record_results([result(site["id"], at=timezone.now())])
    assert not MonitoringGap.objects.filter(reason="unchecked").exists()


# --- pause --------------------------------------------------------------------------


def test_a_paused_monitor_is_not_checked_until_resumed(api_client):
    site = add_monitor(api_client, "http://127.0.0.1:9/")
    body = api_client.patch(f"/api/site/{site['id']}", {"paused": True}, format="json").json()
    assert body["paused"] is True and body["enabled"] is False and body["state"] == "paused"
    assert claim_due_sites(timezone.now() + timedelta(hours=1)) == []

    body = api_client.patch(f"/api/site/{site['id']}", {"paused": False}, format="json").json()
    assert body["paused"] is False
    assert claim_due_sites(timezone.now() + timedelta(seconds=1)) == [site["id"]]


def test_paused_and_enabled_that_disagree_are_400(api_client):
    site = add_monitor(api_client, "http://127.0.0.1:9/")
    response = api_client.patch(
        f"/api/site/{site['id']}", {"paused": True, "enabled": True}, format="json"
    )
    assert response.status_code == 400 and "paused" in response.json()
