"""The maintenance windows API: create, list, change, delete, scoping and bad input."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from monitor.models import MaintenanceWindow
from sites.services import site_create
from teams.models import AuditEvent, Membership, Role
from teams.services import project_create
from teams.tokens import token_create
from tests.factories import alice_project
from tests.teams.conftest import make_user

pytestmark = pytest.mark.django_db
WINDOW_KEYS = {
    "id",
    "project",
    "title",
    "description",
    "startsAt",
    "endsAt",
    "rrule",
    "timezone",
    "sites",
    "active",
    "nextStart",
    "nextEnd",
    "createdBy",
    "createdAt",
}
WEEKLY = {
    "title": "Sunday patching",
    "startsAt": "2026-01-04T02:00:00+01:00",
    "endsAt": "2026-01-04T04:00:00+01:00",
    "rrule": "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2",
    "timezone": "Europe/Berlin",
}


def collection(project) -> str:
    return f"/api/projects/{project.pk}/maintenance"


def post(client, project, body):
    return client.post(collection(project), body, format="json")


def test_creating_a_window_answers_201_in_camel_case(api_client, user):
    response = post(api_client, alice_project(), WEEKLY)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == WINDOW_KEYS
    assert body["rrule"] == WEEKLY["rrule"] and body["timezone"] == "Europe/Berlin"
    assert body["sites"] == [] and body["createdBy"] == "alice"
    assert body["startsAt"] == "2026-01-04T01:00:00Z"
    assert body["nextStart"] is not None and body["active"] is False
    assert AuditEvent.objects.filter(action="maintenance.created").count() == 1


def test_an_active_window_says_so_with_its_current_occurrence(api_client, user):
    now = timezone.now()
    body = {
        "title": "Now",
        "startsAt": (now - timedelta(minutes=5)).isoformat(),
        "endsAt": (now + timedelta(minutes=55)).isoformat(),
    }
    created = post(api_client, alice_project(), body).json()
    assert created["active"] is True
    assert created["nextStart"] == created["startsAt"]


def test_the_list_shows_the_project_s_windows_with_their_sites(api_client, user):
    project = alice_project()
    site = site_create(project=project, url="http://127.0.0.1:9/a")
    post(api_client, project, {**WEEKLY, "sites": [site.pk]})

    body = api_client.get(collection(project)).json()

    assert [w["title"] for w in body["windows"]] == ["Sunday patching"]
    assert body["windows"][0]["sites"] == [site.pk]


def test_patch_changes_fields_and_an_empty_site_list_means_the_whole_project(api_client, user):
    project = alice_project()
    site = site_create(project=project, url="http://127.0.0.1:9/a")
    created = post(api_client, project, {**WEEKLY, "sites": [site.pk]}).json()

    response = api_client.patch(
        f"/api/maintenance/{created['id']}", {"title": "Renamed", "sites": []}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["title"] == "Renamed" and response.json()["sites"] == []
    event = AuditEvent.objects.get(action="maintenance.changed")
    assert set(event.detail) == {"title", "sites"}


def test_delete_removes_the_window(api_client, user):
    created = post(api_client, alice_project(), WEEKLY).json()
    assert api_client.delete(f"/api/maintenance/{created['id']}").status_code == 204
    assert not MaintenanceWindow.objects.exists()
    assert AuditEvent.objects.filter(action="maintenance.deleted").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rrule": "FREQ=MINUTELY"}, "rrule"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "rrule"),
        ({"timezone": "Nowhere/Special"}, "timezone"),
        ({"endsAt": "2026-01-04T01:00:00+01:00"}, "endsAt"),
        ({"endsAt": "2027-06-01T00:00:00Z"}, "endsAt"),  # longer than the limit
        ({"startsAt": "not a date"}, "startsAt"),
        ({"startsAt": "0001-01-01T00:00:00Z"}, "startsAt"),
        ({"sites": [987654321]}, "sites"),
        ({"title": ""}, "title"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_answers_400_naming_the_field(api_client, user, change, field):
    response = post(api_client, alice_project(), {**WEEKLY, **change})
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not MaintenanceWindow.objects.exists()


def test_a_site_of_another_project_is_a_400_naming_sites(api_client, user):
    theirs = site_create(
        project=project_create(user=make_user("bob"), name="Bob's"), url="http://127.0.0.1:9/b"
    )
    response = post(api_client, alice_project(), {**WEEKLY, "sites": [theirs.pk]})
    assert response.status_code == 400 and "sites" in response.json()


def test_another_project_s_windows_are_404(api_client, user):
    bob = make_user("bob")
    theirs = project_create(user=bob, name="Bob's")
    Membership.objects.filter(user=bob, project=theirs).update(role=Role.OWNER)
    window = MaintenanceWindow.objects.create(
        project=theirs,
        title="Bob's secret window",
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(hours=1),
    )

    assert api_client.get(collection(theirs)).status_code == 404
    assert post(api_client, theirs, WEEKLY).status_code == 404
    for method in ("get", "patch", "delete"):
        response = getattr(api_client, method)(
            f"/api/maintenance/{window.pk}", {"title": "x"}, format="json"
        )
        assert response.status_code == 404
        assert "secret" not in response.content.decode()
    assert MaintenanceWindow.objects.get().title == "Bob's secret window"


def test_a_viewer_reads_but_may_not_write(user, api_client):
    project = alice_project()
    created = post(api_client, project, WEEKLY).json()
    viewer = make_user("vera")
    Membership.objects.create(user=viewer, project=project, role=Role.VIEWER)
    as_viewer = APIClient()
    as_viewer.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=viewer, name='t')[1]}")

    assert as_viewer.get(collection(project)).status_code == 200
    assert as_viewer.get(f"/api/maintenance/{created['id']}").status_code == 200
    assert post(as_viewer, project, WEEKLY).status_code == 403
    url = f"/api/maintenance/{created['id']}"
    assert as_viewer.patch(url, {"title": "x"}, format="json").status_code == 403
    assert as_viewer.delete(url).status_code == 403
    assert MaintenanceWindow.objects.get().title == "Sunday patching"


def test_an_editor_may_write(user, api_client):
    project = alice_project()
    editor = make_user("eddie")
    Membership.objects.create(user=editor, project=project, role=Role.EDITOR)
    as_editor = APIClient()
    as_editor.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=editor, name='t')[1]}")
    assert post(as_editor, project, WEEKLY).status_code == 201


@pytest.mark.parametrize("window_id", ["0", "abc", "99999999999999999999", "²"])
def test_odd_ids_are_404(api_client, window_id):
    assert api_client.get(f"/api/maintenance/{window_id}").status_code == 404
