"""The project's maintenance page: it lists the windows, and editors add, change and delete."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitor.maintenance import maintenance_create
from monitor.models import MaintenanceWindow
from sites.services import site_create
from tests.teams.pages_helpers import make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(user):
    return make_team()


def as_(client, user):
    client.force_login(user)
    return client


def page_of(team):
    return reverse("project_maintenance", args=[team.project.pk])


def plan(team, title, start, hours=1, **fields):
    return maintenance_create(
        project=team.project,
        title=title,
        starts_at=start,
        ends_at=start + timedelta(hours=hours),
        **fields,
    )


FORM = {
    "title": "Database upgrade",
    "description": "",
    "starts_at": "2026-03-29T02:00",
    "ends_at": "2026-03-29T04:00",
    "timezone": "Europe/Berlin",
    "rrule": "",
}


def test_the_page_lists_current_upcoming_and_past_windows(client, team):
    now = timezone.now()
    plan(team, "Happening now", now - timedelta(minutes=10))
    plan(team, "Weekly patching", now + timedelta(days=1), rrule="FREQ=WEEKLY")
    plan(team, "Last year's move", datetime(2025, 1, 1, 8, tzinfo=UTC))

    response = as_(client, team.viewer).get(page_of(team))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.index("Happening now") < page.index("Weekly patching") < page.index("Last year")
    assert "repeats FREQ=WEEKLY" in page and "the whole project" in page
    assert "Plan maintenance" not in page  # a viewer reads only


def test_the_project_tabs_link_to_the_page(client, team):
    members = reverse("project_members", args=[team.project.pk])
    assert page_of(team) in as_(client, team.viewer).get(members).content.decode()


def test_an_editor_adds_a_window_in_its_own_time_zone(client, team):
    site = site_create(project=team.project, url="http://127.0.0.1:9/db")
    response = as_(client, team.editor).post(page_of(team), {**FORM, "sites": [site.pk]})

    assert response.status_code == 302
    window = MaintenanceWindow.objects.get()
    # 02:00 does not exist in Berlin that night; the moment is what Python makes of it.
    assert window.starts_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert window.ends_at == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)
    assert list(window.sites.all()) == [site] and window.created_by == team.editor


def test_a_bad_rule_is_shown_beside_its_field(client, team):
    response = as_(client, team.editor).post(page_of(team), {**FORM, "rrule": "FREQ=MINUTELY"})
    assert response.status_code == 200
    assert "FREQ must be one of" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_a_viewer_may_not_add_one(client, team):
    assert as_(client, team.viewer).post(page_of(team), FORM).status_code == 403
    assert not MaintenanceWindow.objects.exists()


def test_an_outsider_gets_404(client, team):
    window = plan(team, "Secret window", timezone.now())
    assert as_(client, team.outsider).get(page_of(team)).status_code == 404
    edit = reverse("maintenance_edit", args=[team.project.pk, window.pk])
    assert client.get(edit).status_code == 404
    delete = reverse("maintenance_delete", args=[team.project.pk, window.pk])
    assert client.post(delete).status_code == 404
    assert MaintenanceWindow.objects.exists()


def test_an_editor_edits_and_deletes_a_window(client, team):
    window = plan(team, "Old title", datetime(2026, 5, 1, 8, tzinfo=UTC))
    edit = reverse("maintenance_edit", args=[team.project.pk, window.pk])
    as_(client, team.editor)

    form = client.get(edit).content.decode()
    assert 'value="2026-05-01T08:00"' in form

    response = client.post(edit, {**FORM, "title": "New title", "timezone": "UTC"})
    assert response.status_code == 302
    window.refresh_from_db()
    assert window.title == "New title" and window.timezone == "UTC"

    delete = reverse("maintenance_delete", args=[team.project.pk, window.pk])
    assert client.post(delete).status_code == 302
    assert not MaintenanceWindow.objects.exists()


def test_the_admin_lists_windows_and_refuses_a_site_of_another_project(admin_client, team):
    window = plan(team, "In the admin", datetime(2026, 5, 1, 8, tzinfo=UTC))
    outside = site_create(project=team.outsider_project, url="http://127.0.0.1:9/out")
    changelist = reverse("admin:monitor_maintenancewindow_changelist")
    assert "In the admin" in admin_client.get(changelist).content.decode()

    change = reverse("admin:monitor_maintenancewindow_change", args=[window.pk])
    response = admin_client.post(
        change,
        {
            "project": team.project.pk,
            "title": "In the admin",
            "description": "",
            "starts_at_0": "2026-05-01",
            "starts_at_1": "08:00:00",
            "ends_at_0": "2026-05-01",
            "ends_at_1": "09:00:00",
            "rrule": "",
            "timezone": "UTC",
            "sites": [outside.pk],
            "created_by": "",
        },
    )
    assert response.status_code == 200
    assert "not in the window&#x27;s project" in response.content.decode()
    assert not window.sites.exists()
