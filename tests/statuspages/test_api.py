"""/api/status-pages: members build pages of their own project's monitors, nothing else."""

import pytest

from statuspages.models import StatusPage, StatusPageMonitor
from teams.models import AuditEvent
from tests.statuspages.editor_helpers import GIF, JPEG, PNG, SVG, WEBP, api_as, monitors

pytestmark = pytest.mark.django_db
monitors = monitors  # the shared fixture

PAGES = "/api/status-pages"


def make_page(client, m, **fields):
    body = {"project": m.team.project.pk, "slug": "acme", "title": "Acme status"}
    body.setdefault("sites", [site.pk for site in m.ours[:2]])
    body = {key: value for key, value in {**body, **fields}.items() if value is not None}
    response = client.post(PAGES, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_an_editor_makes_a_page_of_chosen_monitors_with_its_public_url(
    monitors, settings, django_capture_on_commit_callbacks
):
    settings.UPTIME_BASE_URL = "https://uptime.example.test"
    client = api_as(monitors.team.editor)
    api, web, _ = monitors.ours

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            PAGES,
            {
                "project": monitors.team.project.pk,
                "slug": "acme",
                "title": "Acme status",
                "sites": [web.pk, api.pk],
            },
            format="json",
        )

    assert response.status_code == 201
    page = response.json()
    assert page["url"] == "https://uptime.example.test/status/acme"
    assert page["customDomainUrl"] is None
    assert [m["site"] for m in page["groups"][0]["monitors"]] == [web.pk, api.pk]
    assert page["groups"][0]["name"] == ""
    assert (page["showUrls"], page["showErrors"], page["showResponseTimes"]) == (False,) * 3
    assert len(callbacks) == 1  # the cache is told after the commit
    event = AuditEvent.objects.get(action="status_page.created")
    assert event.project == monitors.team.project and event.actor == monitors.team.editor


def test_groups_keep_their_order_and_display_names(monitors):
    api, web, db = monitors.ours
    page = make_page(
        api_as(monitors.team.editor),
        monitors,
        sites=None,
        groups=[
            {"name": "Front", "monitors": [{"site": web.pk, "displayName": "Website"}]},
            {"name": "Back", "monitors": [{"site": db.pk}, {"site": api.pk, "displayName": "API"}]},
        ],
        customDomain="Status.Example.COM.",
        showUrls=True,
    )
    assert [g["name"] for g in page["groups"]] == ["Front", "Back"]
    assert page["groups"][0]["monitors"] == [
        {"site": web.pk, "displayName": "Website", "name": "Website"}
    ]
    assert [m["name"] for m in page["groups"][1]["monitors"]] == ["db", "API"]
    assert page["customDomain"] == "status.example.com"
    assert page["customDomainUrl"].endswith("://status.example.com/")
    assert page["showUrls"] is True


def test_a_page_cannot_show_another_projects_monitor(monitors):
    client = api_as(monitors.team.editor)
    body = {"project": monitors.team.project.pk, "slug": "acme", "title": "A"}

    response = client.post(PAGES, {**body, "sites": [monitors.theirs.pk]}, format="json")
    assert response.status_code == 400
    assert str(monitors.theirs.pk) in response.json()["sites"][0]

    grouped = {"groups": [{"name": "x", "monitors": [{"site": monitors.theirs.pk}]}]}
    response = client.post(PAGES, {**body, **grouped}, format="json")
    assert response.status_code == 400 and "groups" in response.json()

    response = client.post(
        PAGES, {**body, "project": monitors.team.outsider_project.pk}, format="json"
    )
    assert response.status_code == 400 and "project" in response.json()
    assert not StatusPage.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"slug": "Bad Slug"}, "slug", "Lowercase letters"),
        ({"slug": "-acme"}, "slug", "Lowercase letters"),
        ({"slug": "a" * 65}, "slug", "at most 64"),
        ({"title": ""}, "title", "blank"),
        ({"title": "t" * 201}, "title", "200"),
        ({"title": "line\nbreak"}, "title", "control characters"),
        ({"description": "d" * 2001}, "description", "2000"),
        ({"customDomain": "https://status.example.com"}, "customDomain", "no scheme"),
        ({"customDomain": "status.example.com:8443"}, "customDomain", "no scheme, port"),
        ({"customDomain": "status.example.com/x"}, "customDomain", "no scheme"),
        ({"customDomain": "localhost"}, "customDomain", "not a valid host name"),
        ({"customDomain": "bad_name.example"}, "customDomain", "not a valid host name"),
        ({"customDomain": "10.0.0.1"}, "customDomain", "not a valid host name"),
        ({"colour": "red"}, "colour", "cannot be set here"),
        ({"sites": [1, 1]}, "sites", "once per page"),
        ({"sites": ["x"]}, "sites", "valid integer"),
        ({"groups": [{"monitors": [{"site": 1, "extra": 1}]}]}, "groups", "cannot be set"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_why(monitors, fields, field, reason):
    body = {"project": monitors.team.project.pk, "slug": "acme", "title": "Acme"}
    if fields.get("sites") == [1, 1]:
        fields = {"sites": [monitors.ours[0].pk] * 2}
    response = api_as(monitors.team.editor).post(PAGES, {**body, **fields}, format="json")
    assert response.status_code == 400
    assert reason in str(response.json()[field])
    assert not StatusPage.objects.exists()


def test_a_slug_or_domain_taken_by_another_page_is_refused(monitors):
    client = api_as(monitors.team.editor)
    make_page(client, monitors, customDomain="status.example.com")
    body = {"project": monitors.team.project.pk, "title": "Two"}

    taken = client.post(PAGES, {**body, "slug": "acme"}, format="json")
    assert taken.status_code == 400
    assert taken.json() == {"slug": ["The address /status/acme is taken; choose another slug."]}
    domain = client.post(
        PAGES, {**body, "slug": "two", "customDomain": "STATUS.example.com"}, format="json"
    )
    assert domain.status_code == 400 and "already" in domain.json()["customDomain"][0]


def test_the_installations_own_host_cannot_be_a_pages_domain(monitors, settings):
    settings.UPTIME_BASE_URL = "https://uptime.example.test"
    response = api_as(monitors.team.editor).post(
        PAGES,
        {
            "project": monitors.team.project.pk,
            "slug": "acme",
            "title": "A",
            "customDomain": "uptime.example.test",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "own address" in response.json()["customDomain"][0]


def test_members_read_pages_and_only_editors_change_them(monitors):
    team = monitors.team
    page = make_page(api_as(team.editor), monitors)
    viewer = api_as(team.viewer)

    assert viewer.get(f"{PAGES}/{page['id']}").json()["slug"] == "acme"
    assert [p["id"] for p in viewer.get(PAGES).json()["statusPages"]] == [page["id"]]
    assert viewer.patch(f"{PAGES}/{page['id']}", {"title": "x"}, format="json").status_code == 403
    assert viewer.delete(f"{PAGES}/{page['id']}").status_code == 403
    body = {"project": team.project.pk, "slug": "mine", "title": "Mine"}
    assert viewer.post(PAGES, body, format="json").status_code == 403
    assert StatusPage.objects.get().title == "Acme status"


def test_an_outsider_learns_nothing_of_another_projects_pages(monitors):
    team = monitors.team
    page = make_page(api_as(team.editor), monitors)
    outsider = api_as(team.outsider)

    assert outsider.get(PAGES).json() == {"statusPages": []}
    assert outsider.get(f"{PAGES}?project={team.project.pk}").status_code == 404
    for method in ("get", "patch", "delete"):
        response = getattr(outsider, method)(f"{PAGES}/{page['id']}", {}, format="json")
        assert response.status_code == 404, method
        assert "Acme" not in response.content.decode()
    assert outsider.get(f"{PAGES}/{page['id']}/incidents").status_code == 404
    assert (
        outsider.put(f"{PAGES}/{page['id']}/logo", PNG, content_type="image/png").status_code == 404
    )
    assert StatusPage.objects.filter(pk=page["id"]).exists()


def test_the_list_narrows_to_one_project(monitors):
    team = monitors.team
    make_page(api_as(team.owner), monitors)
    from tests.factories import alice_project

    other = alice_project()  # the owner's personal project
    assert api_as(team.owner).get(f"{PAGES}?project={other.pk}").json() == {"statusPages": []}
    assert (
        len(api_as(team.owner).get(f"{PAGES}?project={team.project.pk}").json()["statusPages"]) == 1
    )


def test_patch_changes_settings_and_replaces_the_monitors(
    monitors, django_capture_on_commit_callbacks
):
    client = api_as(monitors.team.editor)
    page = make_page(client, monitors)
    db = monitors.ours[2]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.patch(
            f"{PAGES}/{page['id']}",
            {"title": "New title", "slug": "acme-2", "sites": [db.pk], "showErrors": True},
            format="json",
        )

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["slug"], body["showErrors"]) == ("New title", "acme-2", True)
    assert body["url"].endswith("/status/acme-2")
    assert [m["site"] for g in body["groups"] for m in g["monitors"]] == [db.pk]
    assert StatusPageMonitor.objects.count() == 1
    assert len(callbacks) == 1
    changed = AuditEvent.objects.get(action="status_page.changed")
    assert changed.detail["title"] == {"from": "Acme status", "to": "New title"}


def test_patch_without_fields_or_with_a_bad_one_changes_nothing(monitors):
    client = api_as(monitors.team.editor)
    page = make_page(client, monitors)
    url = f"{PAGES}/{page['id']}"

    assert client.patch(url, {}, format="json").status_code == 400
    response = client.patch(url, {"title": "ok", "sites": [monitors.theirs.pk]}, format="json")
    assert response.status_code == 400 and "sites" in response.json()
    response = client.patch(url, {"customDomain": "a b"}, format="json")
    assert response.status_code == 400 and "customDomain" in response.json()
    assert client.get(url).json() == page


def test_delete_removes_the_page(monitors):
    client = api_as(monitors.team.editor)
    page = make_page(client, monitors)

    assert client.delete(f"{PAGES}/{page['id']}").status_code == 204
    assert client.get(f"{PAGES}/{page['id']}").status_code == 404
    assert not StatusPageMonitor.objects.exists()
    assert AuditEvent.objects.filter(action="status_page.deleted").count() == 1


@pytest.mark.parametrize(
    ("image", "media_type"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")],
)
def test_a_logo_is_taken_by_its_first_bytes(monitors, image, media_type):
    client = api_as(monitors.team.editor)
    page = make_page(client, monitors)
    # The Content-Type a client sends is not what decides.
    response = client.put(f"{PAGES}/{page['id']}/logo", image, content_type="image/png")
    assert response.status_code == 200
    assert response.json()["logoType"] == media_type
    assert response.json()["logoUrl"].endswith("/status/acme/logo")
    stored = StatusPage.objects.get()
    assert bytes(stored.logo) == image and stored.logo_type == media_type


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (SVG, "SVG is not accepted"),
        (b"", "empty"),
        (b"GIF8" + b"\x00" * 10, "PNG, JPEG, GIF or WebP"),
        (PNG + b"\x00" * (256 * 1024), "at most 262144"),
    ],
)
def test_a_logo_that_is_no_image_we_take_is_a_400(monitors, body, reason):
    client = api_as(monitors.team.editor)
    page = make_page(client, monitors)
    response = client.put(f"{PAGES}/{page['id']}/logo", body, content_type="image/svg+xml")
    assert response.status_code == 400
    assert reason in response.json()["logo"][0]
    assert StatusPage.objects.get().logo is None


def test_a_logo_is_removed(monitors):
    client = api_as(monitors.team.editor)
    page = make_page(client, monitors)
    client.put(f"{PAGES}/{page['id']}/logo", PNG, content_type="image/png")

    response = client.delete(f"{PAGES}/{page['id']}/logo")
    assert response.status_code == 200 and response.json()["logoType"] == ""
    assert response.json()["logoUrl"] is None
    assert StatusPage.objects.get().logo is None
    viewer = api_as(monitors.team.viewer)
    assert (
        viewer.put(f"{PAGES}/{page['id']}/logo", PNG, content_type="image/png").status_code == 403
    )
