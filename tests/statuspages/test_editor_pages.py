"""The status pages editor: list, make, edit (monitors, groups, logo), delete; incidents."""

import re

import pytest
from django.urls import reverse

from statuspages.models import StatusIncident, StatusPage
from statuspages.services import Group, MonitorEntry, incident_create, status_page_create
from tests.statuspages.editor_helpers import PNG, SVG, monitors

pytestmark = pytest.mark.django_db
monitors = monitors  # the shared fixture


def as_(client, user):
    client.force_login(user)
    return client


def make_page(m, **fields):
    api, web, _ = m.ours
    groups = [
        Group(name="Core", monitors=[MonitorEntry(site=api.pk, display_name="Public API")]),
        Group(name="", monitors=[MonitorEntry(site=web.pk)]),
    ]
    values = {"slug": "acme", "title": "Acme status", "groups": groups, **fields}
    return status_page_create(project=m.team.project, **values)


def form_data(m, **overrides) -> dict:
    """A filled-in editor form: api and db shown, db first, under groups."""
    api, web, db = m.ours
    data = {
        "title": "Acme status",
        "slug": "acme",
        "description": "How we are doing.",
        "custom_domain": "",
        f"show_{api.pk}": "on",
        f"group_{api.pk}": "Back end",
        f"name_{api.pk}": "Public API",
        f"position_{api.pk}": "20",
        f"show_{db.pk}": "on",
        f"group_{db.pk}": "Data",
        f"name_{db.pk}": "",
        f"position_{db.pk}": "10",
        f"group_{web.pk}": "Ignored",
        f"position_{web.pk}": "5",
    }
    return {**data, **overrides}


def input_tag(html: str, name: str) -> str:
    return re.search(rf'<input[^>]*name="{name}"[^>]*>', html)[0]


def layout(page: StatusPage) -> list[tuple[str, list[tuple[int, str]]]]:
    return [
        (group.name, [(e.site_id, e.display_name) for e in group.monitors.all()])
        for group in page.groups.all()
    ]


def test_the_project_tabs_lead_to_the_status_pages_with_their_public_urls(client, monitors):
    page = make_page(monitors)
    as_(client, monitors.team.viewer)

    channels = client.get(reverse("project_channels", args=[monitors.team.project.pk]))
    listing_url = reverse("project_status_pages", args=[monitors.team.project.pk])
    assert listing_url in channels.content.decode()
    listing = client.get(listing_url).content.decode()
    assert "Acme status" in listing and f"/status/{page.slug}" in listing
    assert "2 monitors" in listing
    assert "New status page" not in listing  # a viewer reads only


def test_an_editor_makes_a_page_with_groups_in_position_order(client, monitors):
    api, _, db = monitors.ours
    as_(client, monitors.team.editor)
    add = reverse("status_page_add", args=[monitors.team.project.pk])
    form = client.get(add).content.decode()
    assert f'name="show_{api.pk}"' in form and 'enctype="multipart/form-data"' in form

    response = client.post(add, form_data(monitors))

    page = StatusPage.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("status_page_edit", args=[page.project_id, page.pk])
    assert page.description == "How we are doing."
    assert layout(page) == [("Data", [(db.pk, "")]), ("Back end", [(api.pk, "Public API")])]


def test_the_edit_form_shows_the_page_as_it_is_and_saves_changes(client, monitors):
    page = make_page(monitors)
    api, web, db = monitors.ours
    as_(client, monitors.team.editor)
    url = reverse("status_page_edit", args=[page.project_id, page.pk])

    form = client.get(url).content.decode()
    assert 'value="Public API"' in form and 'value="Core"' in form
    assert " checked" in input_tag(form, f"show_{api.pk}")
    assert " checked" not in input_tag(form, f"show_{db.pk}")

    data = form_data(
        monitors, title="Renamed", show_errors="on", custom_domain="Status.Example.COM"
    )
    response = client.post(url, data)

    assert response.status_code == 302
    page.refresh_from_db()
    assert (page.title, page.show_errors, page.custom_domain) == (
        "Renamed",
        True,
        "status.example.com",
    )
    assert layout(page) == [("Data", [(db.pk, "")]), ("Back end", [(api.pk, "Public API")])]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"slug": "Not A Slug"}, "Lowercase letters"),
        ({"title": ""}, "This field is required."),
        ({"custom_domain": "https://status.example.com/"}, "no scheme"),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_nothing_is_saved(
    client, monitors, overrides, message
):
    as_(client, monitors.team.editor)
    add = reverse("status_page_add", args=[monitors.team.project.pk])
    response = client.post(add, form_data(monitors, **overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not StatusPage.objects.exists()


def test_a_taken_slug_is_shown_as_taken(client, monitors):
    make_page(monitors)
    as_(client, monitors.team.editor)
    add = reverse("status_page_add", args=[monitors.team.project.pk])
    response = client.post(add, form_data(monitors))
    assert "The address /status/acme is taken" in response.content.decode()
    assert StatusPage.objects.count() == 1


def test_a_logo_is_uploaded_checked_and_removed(client, monitors):
    from django.core.files.uploadedfile import SimpleUploadedFile

    page = make_page(monitors)
    as_(client, monitors.team.editor)
    url = reverse("status_page_edit", args=[page.project_id, page.pk])

    svg = SimpleUploadedFile("logo.svg", SVG, content_type="image/svg+xml")
    response = client.post(url, {**form_data(monitors), "logo": svg})
    assert response.status_code == 200 and "SVG is not accepted" in response.content.decode()

    png = SimpleUploadedFile("logo.png", PNG, content_type="image/png")
    assert client.post(url, {**form_data(monitors), "logo": png}).status_code == 302
    page.refresh_from_db()
    assert bytes(page.logo) == PNG and page.logo_type == "image/png"

    assert client.post(url, {**form_data(monitors), "remove_logo": "on"}).status_code == 302
    page.refresh_from_db()
    assert page.logo is None and page.logo_type == ""


def test_the_form_offers_only_the_projects_monitors_and_ignores_others(client, monitors):
    page = make_page(monitors)
    as_(client, monitors.team.editor)
    url = reverse("status_page_edit", args=[page.project_id, page.pk])
    theirs = monitors.theirs

    form = client.get(url).content.decode()
    assert f"show_{theirs.pk}" not in form and "elsewhere" not in form
    client.post(url, {**form_data(monitors), f"show_{theirs.pk}": "on"})
    assert theirs.pk not in [e.site_id for e in page.monitors.all()]


def test_viewers_read_and_outsiders_get_404(client, monitors):
    page = make_page(monitors)
    team = monitors.team
    edit = reverse("status_page_edit", args=[page.project_id, page.pk])
    delete = reverse("status_page_delete", args=[page.project_id, page.pk])

    as_(client, team.viewer)
    read = client.get(edit).content.decode()
    assert "Public API" in read and "<form" not in read.split("</header>")[-1].split("<footer")[0]
    assert client.post(edit, form_data(monitors, title="Viewer was here")).status_code == 403
    assert client.post(delete).status_code == 403
    add = reverse("status_page_add", args=[team.project.pk])
    assert client.get(add).status_code == 403

    as_(client, team.outsider)
    for url in (edit, delete, reverse("status_incidents", args=[page.project_id, page.pk])):
        assert client.get(url).status_code == 404
    assert client.get(reverse("project_status_pages", args=[team.project.pk])).status_code == 404
    # Another project's page under one's own project's URL is no way in either.
    elsewhere = reverse("status_page_edit", args=[team.outsider_project.pk, page.pk])
    assert client.get(elsewhere).status_code == 404
    assert StatusPage.objects.get().title == "Acme status"


def test_delete_asks_first_then_deletes(client, monitors):
    page = make_page(monitors)
    as_(client, monitors.team.editor)
    url = reverse("status_page_delete", args=[page.project_id, page.pk])

    assert "Delete this status page?" in client.get(url).content.decode()
    assert StatusPage.objects.exists()
    response = client.post(url)
    assert response["Location"] == reverse("project_status_pages", args=[page.project_id])
    assert not StatusPage.objects.exists()


def test_an_incident_is_written_updated_resolved_and_deleted(client, monitors):
    page = make_page(monitors)
    api = monitors.ours[0]
    as_(client, monitors.team.editor)
    incidents = reverse("status_incidents", args=[page.project_id, page.pk])
    assert "Public API" in client.get(incidents).content.decode()  # the monitors to tick

    response = client.post(
        incidents,
        {
            "kind": "incident",
            "title": "API errors",
            "impact": "major",
            "status": "investigating",
            "message": "Looking into it.",
            "sites": [str(api.pk)],
        },
    )
    incident = StatusIncident.objects.get()
    detail = reverse("status_incident", args=[page.project_id, page.pk, incident.pk])
    assert response["Location"] == detail
    assert list(incident.sites.all()) == [api]

    client.post(detail, {"update": "1", "status": "resolved", "message": "Fixed."})
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    page_text = client.get(detail).content.decode()
    assert "Fixed." in page_text and "Looking into it." in page_text

    client.post(detail, {"edit": "1", "kind": "incident", "title": "API outage", "impact": "minor"})
    incident.refresh_from_db()
    assert (incident.title, incident.impact, list(incident.sites.all())) == (
        "API outage",
        "minor",
        [],
    )

    delete = reverse("status_incident_delete", args=[page.project_id, page.pk, incident.pk])
    assert "Delete this incident?" in client.get(delete).content.decode()
    assert client.post(delete)["Location"] == incidents
    assert not StatusIncident.objects.exists()


def test_bad_incident_input_is_shown_and_nothing_is_written(client, monitors):
    page = make_page(monitors)
    as_(client, monitors.team.editor)
    incidents = reverse("status_incidents", args=[page.project_id, page.pk])
    body = {"kind": "incident", "impact": "minor", "status": "investigating", "message": "m"}

    response = client.post(incidents, {**body, "title": ""})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    response = client.post(incidents, {**body, "title": "t", "sites": [str(monitors.theirs.pk)]})
    assert "not one of the available choices" in response.content.decode()
    assert not StatusIncident.objects.exists()


def test_a_viewer_reads_incidents_but_cannot_write_them(client, monitors):
    page = make_page(monitors)
    incident = incident_create(page=page, title="API errors", message="Looking.")
    as_(client, monitors.team.viewer)
    incidents = reverse("status_incidents", args=[page.project_id, page.pk])
    detail = reverse("status_incident", args=[page.project_id, page.pk, incident.pk])

    assert "API errors" in client.get(incidents).content.decode()
    assert "Post an update" not in client.get(detail).content.decode()
    assert (
        client.post(detail, {"update": "1", "status": "resolved", "message": "x"}).status_code
        == 403
    )
    assert client.post(incidents, {"title": "t", "message": "m"}).status_code == 403
    incident.refresh_from_db()
    assert incident.resolved_at is None
