"""/api/status-pages/<id>/incidents: incidents and announcements, their updates, resolving."""

import pytest

from statuspages.models import StatusIncident, StatusIncidentUpdate
from teams.models import AuditEvent
from tests.statuspages.editor_helpers import api_as, monitors

pytestmark = pytest.mark.django_db
monitors = monitors  # the shared fixture

PAGES = "/api/status-pages"


@pytest.fixture
def page(monitors):
    client = api_as(monitors.team.editor)
    body = {
        "project": monitors.team.project.pk,
        "slug": "acme",
        "title": "Acme",
        "sites": [site.pk for site in monitors.ours[:2]],
    }
    return client.post(PAGES, body, format="json").json()


def incidents_url(page) -> str:
    return f"{PAGES}/{page['id']}/incidents"


def write(client, page, **fields):
    body = {"title": "API errors", "message": "We are looking into it.", **fields}
    response = client.post(incidents_url(page), body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_an_incident_is_written_with_its_first_update(monitors, page):
    api = monitors.ours[0]
    client = api_as(monitors.team.editor)

    incident = write(client, page, impact="major", sites=[api.pk])

    assert incident["kind"] == "incident" and incident["impact"] == "major"
    assert incident["status"] == "investigating" and incident["resolvedAt"] is None
    assert incident["sites"] == [api.pk]
    [first] = incident["updates"]
    assert first["message"] == "We are looking into it."
    assert first["author"] == monitors.team.editor.username
    listed = client.get(incidents_url(page)).json()["incidents"]
    assert [item["id"] for item in listed] == [incident["id"]]
    assert AuditEvent.objects.filter(action="status_incident.created").count() == 1


def test_updates_tell_the_course_and_resolved_resolves_it(monitors, page):
    client = api_as(monitors.team.editor)
    incident = write(client, page)
    updates = f"{incidents_url(page)}/{incident['id']}/updates"

    found = client.post(
        updates, {"status": "identified", "message": "A bad deploy."}, format="json"
    )
    assert found.status_code == 201 and found.json()["resolvedAt"] is None
    resolved = client.post(
        updates, {"status": "resolved", "message": "Rolled back."}, format="json"
    )
    body = resolved.json()
    assert body["status"] == "resolved" and body["resolvedAt"] is not None
    assert [u["status"] for u in body["updates"]] == ["investigating", "identified", "resolved"]

    reopened = client.post(updates, {"status": "monitoring", "message": "Again?"}, format="json")
    assert reopened.json()["resolvedAt"] is None
    assert StatusIncident.objects.get().resolved_at is None


def test_an_announcement_written_as_resolved_is_resolved_at_once(monitors, page):
    incident = write(
        api_as(monitors.team.editor), page, kind="announcement", status="resolved", impact="none"
    )
    assert incident["kind"] == "announcement" and incident["resolvedAt"] is not None


def test_an_incident_is_corrected_and_deleted(monitors, page):
    client = api_as(monitors.team.editor)
    incident = write(client, page)
    url = f"{incidents_url(page)}/{incident['id']}"
    web = monitors.ours[1]

    response = client.patch(
        url, {"title": "Slow API", "impact": "none", "sites": [web.pk]}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["impact"], body["sites"]) == ("Slow API", "none", [web.pk])

    assert client.delete(url).status_code == 204
    assert client.patch(url, {"title": "x"}, format="json").status_code == 404
    assert not StatusIncidentUpdate.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"title": ""}, "title", "blank"),
        ({"message": ""}, "message", "blank"),
        ({"status": "fixed"}, "status", "not a valid choice"),
        ({"impact": "huge"}, "impact", "not a valid choice"),
        ({"kind": "rumour"}, "kind", "not a valid choice"),
        ({"sites": "all"}, "sites", "list"),
        ({"severity": 3}, "severity", "cannot be set here"),
        ({"title": "t" * 201}, "title", "200"),
        ({"message": "m" * 5001}, "message", "5000"),
    ],
)
def test_bad_incident_input_is_a_400_naming_the_field(monitors, page, fields, field, reason):
    body = {"title": "API errors", "message": "Looking.", **fields}
    response = api_as(monitors.team.editor).post(incidents_url(page), body, format="json")
    assert response.status_code == 400
    assert reason in str(response.json()[field])
    assert not StatusIncident.objects.exists()


def test_an_incident_may_only_name_monitors_the_page_shows(monitors, page):
    client = api_as(monitors.team.editor)
    not_shown, elsewhere = monitors.ours[2], monitors.theirs
    for site in (not_shown, elsewhere):
        response = client.post(
            incidents_url(page), {"title": "t", "message": "m", "sites": [site.pk]}, format="json"
        )
        assert response.status_code == 400
        assert str(site.pk) in response.json()["sites"][0]
    assert not StatusIncident.objects.exists()


def test_viewers_read_incidents_and_outsiders_get_404(monitors, page):
    team = monitors.team
    incident = write(api_as(team.editor), page)
    url = f"{incidents_url(page)}/{incident['id']}"
    viewer, outsider = api_as(team.viewer), api_as(team.outsider)

    assert viewer.get(incidents_url(page)).status_code == 200
    assert (
        viewer.post(incidents_url(page), {"title": "t", "message": "m"}, format="json").status_code
        == 403
    )
    assert viewer.delete(url).status_code == 403
    assert (
        viewer.post(
            f"{url}/updates", {"status": "resolved", "message": "m"}, format="json"
        ).status_code
        == 403
    )
    assert outsider.get(incidents_url(page)).status_code == 404
    assert outsider.delete(url).status_code == 404
    assert StatusIncident.objects.filter(pk=incident["id"]).exists()


def test_an_incident_is_reached_only_through_its_own_page(monitors, page):
    client = api_as(monitors.team.editor)
    incident = write(client, page)
    other = client.post(
        PAGES,
        {"project": monitors.team.project.pk, "slug": "other", "title": "Other"},
        format="json",
    ).json()
    assert client.delete(f"{PAGES}/{other['id']}/incidents/{incident['id']}").status_code == 404
    assert client.delete(f"{PAGES}/{page['id']}/incidents/nope").status_code == 404
    assert StatusIncident.objects.filter(pk=incident["id"]).exists()
