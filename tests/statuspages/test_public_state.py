"""The page's overall state: major, partial, maintenance or operational."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.models import MaintenanceWindow
from tests.factories import alice_project
from tests.statuspages.test_public import empty_cache, get, make_incident, make_page, make_site

__all__ = ["empty_cache"]


def overall() -> tuple[str, str]:
    status = get("/status/acme.json").json()["status"]
    return status["indicator"], status["description"]


def page_of(*states: str):
    project = alice_project()
    sites = [make_site(project, f"Service {i}", status=state) for i, state in enumerate(states)]
    return make_page(project, sites), sites


@pytest.mark.django_db
def test_all_up_is_all_systems_operational():
    page_of("up", "up", "unknown")
    assert overall() == ("operational", "All systems operational")
    assert "All systems operational" in get("/status/acme").content.decode()


@pytest.mark.django_db
def test_one_down_of_three_is_a_partial_outage():
    page_of("up", "down", "up")
    assert overall() == ("partial", "Partial outage")


@pytest.mark.django_db
def test_a_degraded_monitor_is_a_partial_outage():
    page_of("up", "degraded")
    assert overall()[0] == "partial"


@pytest.mark.django_db
def test_exactly_half_down_is_still_a_partial_outage():
    page_of("up", "down")
    assert overall()[0] == "partial"


@pytest.mark.django_db
def test_more_than_half_down_is_a_major_outage():
    page_of("down", "down", "up")
    assert overall() == ("major", "Major outage")


@pytest.mark.django_db
def test_an_open_major_incident_is_a_major_outage_and_a_resolved_one_is_not():
    page, _ = page_of("up", "up")
    incident = make_incident(page, impact="major")
    assert overall()[0] == "major"

    incident.resolved_at = timezone.now()
    incident.save()
    from statuspages.cache import invalidate_pages

    invalidate_pages([page.pk])
    assert overall()[0] == "operational"


@pytest.mark.django_db
def test_an_open_minor_incident_is_a_partial_outage_and_an_announcement_is_neither():
    page, _ = page_of("up")
    make_incident(page, kind="announcement", impact="major")
    assert overall()[0] == "operational"
    make_incident(page, impact="minor")
    from statuspages.cache import invalidate_pages

    invalidate_pages([page.pk])
    assert overall()[0] == "partial"


@pytest.mark.django_db
def test_a_monitor_in_a_maintenance_window_now_is_under_maintenance():
    page, (first, second) = page_of("up", "down")
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        project=page.project,
        title="Upgrade",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
    )
    window.sites.add(second)  # the down one is in maintenance: not counted as down

    data = get("/status/acme.json").json()

    assert data["status"]["indicator"] == "maintenance"
    assert data["status"]["description"] == "Under maintenance"
    assert [m["status"] for m in data["groups"][0]["monitors"]] == ["up", "maintenance"]
    assert data["maintenance"][0]["active"] is True


@pytest.mark.django_db
def test_down_outside_maintenance_wins_over_maintenance():
    page, (first, second, third) = page_of("down", "up", "up")
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        project=page.project,
        title="Upgrade",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
    )
    window.sites.add(second)
    assert overall()[0] == "partial"


@pytest.mark.django_db
def test_a_paused_monitor_is_shown_paused_and_not_counted_down():
    page_of("down", "up")
    from sites.models import Site

    Site.objects.filter(status="down").update(enabled=False, paused_at=timezone.now())
    data = get("/status/acme.json").json()
    assert [m["status"] for m in data["groups"][0]["monitors"]] == ["paused", "up"]
    assert data["status"]["indicator"] == "operational"
