"""The public status page through HTTP: no login, only the chosen monitors, nothing internal."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from monitor.models import MaintenanceWindow
from sites.models import Site
from statuspages.cache import forget_local
from statuspages.models import (
    StatusIncident,
    StatusIncidentUpdate,
    StatusPage,
    StatusPageGroup,
    StatusPageMonitor,
)
from teams.services import personal_project_ensure
from tests.factories import alice_project

SECRET_URL = "https://internal-secret.example.invalid/health"
SECRET_ERROR = "Connection refused by 10.9.8.7"


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    forget_local()
    yield
    cache.clear()
    forget_local()


def make_site(project, name, *, url=None, status="up", **fields) -> Site:
    url = url or f"https://{name.lower().replace(' ', '-')}.example.invalid/"
    defaults = {"last_checked_at": timezone.now(), "status_changed_at": timezone.now()}
    return Site.objects.create(
        project=project, name=name, url=url, status=status, **defaults | fields
    )


def make_page(project, sites, *, slug="acme", groups=("Core",), **fields) -> StatusPage:
    page = StatusPage.objects.create(project=project, slug=slug, title="Acme status", **fields)
    group_rows = [
        StatusPageGroup.objects.create(page=page, name=name, position=i)
        for i, name in enumerate(groups)
    ]
    for position, site in enumerate(sites):
        StatusPageMonitor.objects.create(
            page=page, group=group_rows[position % len(group_rows)], site=site, position=position
        )
    return page


def make_incident(page, title="Elevated errors", *, impact="minor", kind="incident", **fields):
    incident = StatusIncident.objects.create(
        page=page, title=title, impact=impact, kind=kind, **fields
    )
    StatusIncidentUpdate.objects.create(
        incident=incident,
        status="investigating",
        message="We are looking into it.",
        created_at=timezone.now() - timedelta(minutes=10),
    )
    StatusIncidentUpdate.objects.create(
        incident=incident, status="identified", message="A bad deploy; rolling back."
    )
    return incident


def other_project():
    bob = get_user_model().objects.create_user(username="bob", password="b0b-pass-word")
    return personal_project_ensure(user=bob)


def get(path, **headers):
    return Client().get(path, **headers)


@pytest.mark.django_db
def test_it_renders_without_login_with_title_description_and_feeds_linked():
    api = make_site(alice_project(), "API")
    make_page(alice_project(), [api], description="Everything Acme runs.")

    response = get("/status/acme")

    assert response.status_code == 200
    body = response.content.decode()
    assert "<title>Acme status status</title>" in body
    assert "Everything Acme runs." in body
    assert 'rel="alternate" type="application/rss+xml"' in body
    assert 'href="/status/acme/feed.atom"' in body
    assert "Sign in" not in body and "Dashboard" not in body  # not the member layout
    assert "All systems operational" in body


@pytest.mark.django_db
def test_an_unknown_slug_is_404():
    assert get("/status/nobody").status_code == 404
    assert get("/status/nobody.json").status_code == 404
    assert get("/status/nobody/feed.rss").status_code == 404


@pytest.mark.django_db
def test_it_shows_only_the_chosen_monitors_under_their_display_names():
    project = alice_project()
    api = make_site(project, "API", url=SECRET_URL)
    hidden = make_site(project, "Billing backend")
    page = make_page(project, [api])
    StatusPageMonitor.objects.filter(page=page).update(display_name="Public API")

    body = get("/status/acme").content.decode()
    data = get("/status/acme.json").json()

    assert "Public API" in body and "Billing backend" not in body
    assert [m["name"] for g in data["groups"] for m in g["monitors"]] == ["Public API"]
    assert hidden.name not in str(data)


@pytest.mark.django_db
def test_nothing_internal_leaks_by_default():
    project = alice_project()
    down = make_site(
        project,
        "",  # no name: never the URL in its place
        url=SECRET_URL,
        status="down",
        last_response_ms=4321,
        last_error_message=SECRET_ERROR,
    )
    make_page(project, [down])
    secret_other = make_site(
        other_project(), "Bob's private thing", url="https://bob.example.invalid/"
    )

    body = get("/status/acme").content.decode()
    json_body = get("/status/acme.json").content.decode()
    rss = get("/status/acme/feed.rss").content.decode()
    for text in (body, json_body, rss):
        assert "internal-secret" not in text
        assert SECRET_ERROR not in text
        assert "4321" not in text
        assert "Bob's private thing" not in text and "bob.example" not in text
        assert f'"id": {down.pk},' not in text
        assert project.name not in text and "alice" not in text
    assert secret_other.pk  # it exists, in the other project
    assert "Service 1" in body  # the nameless monitor's stand-in name
    monitor = get("/status/acme.json").json()["groups"][0]["monitors"][0]
    assert set(monitor) == {"name", "status", "statusLabel", "uptime", "days"}
    data = get("/status/acme.json").json()
    assert set(data) == {
        "page",
        "status",
        "groups",
        "incidents",
        "pastIncidents",
        "maintenance",
        "feeds",
        "generatedAt",
    }
    assert set(data["page"]) == {"title", "description", "url", "logo", "updatedAt"}


@pytest.mark.django_db
def test_show_toggles_add_urls_errors_and_response_times():
    project = alice_project()
    down = make_site(project, "Web", url=SECRET_URL, status="down", last_error_message=SECRET_ERROR)
    up = make_site(project, "API", last_response_ms=187)
    make_page(project, [down, up], show_urls=True, show_errors=True, show_response_times=True)

    body = get("/status/acme").content.decode()
    monitors = get("/status/acme.json").json()["groups"][0]["monitors"]

    assert SECRET_URL in body and SECRET_ERROR in body and "187 ms" in body
    assert monitors[0]["url"] == SECRET_URL
    assert monitors[0]["error"] == SECRET_ERROR
    assert monitors[1]["responseMs"] == 187


@pytest.mark.django_db
def test_each_monitor_has_its_state_90_day_bar_and_uptime_figures():
    project = alice_project()
    long_ago = timezone.now() - timedelta(days=200)
    api = make_site(project, "API", created_at=long_ago, status_changed_at=long_ago)
    make_page(project, [api])

    data = get("/status/acme.json").json()
    body = get("/status/acme").content.decode()

    monitor = data["groups"][0]["monitors"][0]
    assert monitor["status"] == "up"
    assert len(monitor["days"]) == 90
    assert set(monitor["uptime"]) == {"24h", "30d", "90d"}
    assert monitor["uptime"]["90d"] == 100.0
    assert 'role="img" aria-label="Last 90 days: 90 days without downtime"' in body
    assert "100%" in body


@pytest.mark.django_db
def test_an_open_incident_and_its_updates_appear_above_past_ones():
    project = alice_project()
    api = make_site(project, "API")
    page = make_page(project, [api])
    old = make_incident(page, "Old outage", resolved_at=timezone.now() - timedelta(days=2))
    StatusIncidentUpdate.objects.create(incident=old, status="resolved", message="All fixed.")
    open_one = make_incident(page, "Elevated errors")
    open_one.sites.add(api)
    make_incident(page, "Ancient", resolved_at=timezone.now() - timedelta(days=60))

    body = get("/status/acme").content.decode()
    data = get("/status/acme.json").json()

    assert body.index("Elevated errors") < body.index("Past incidents") < body.index("Old outage")
    assert "A bad deploy; rolling back." in body and "We are looking into it." in body
    assert "Ancient" not in body
    assert [i["title"] for i in data["incidents"]] == ["Elevated errors"]
    assert [u["status"] for u in data["incidents"][0]["updates"]] == ["investigating", "identified"]
    assert data["incidents"][0]["monitors"] == ["API"]
    assert [i["title"] for i in data["pastIncidents"]] == ["Old outage"]


@pytest.mark.django_db
def test_an_incident_names_only_monitors_the_page_shows():
    project = alice_project()
    api, hidden = make_site(project, "API"), make_site(project, "Secret backend")
    page = make_page(project, [api])
    incident = make_incident(page)
    incident.sites.add(api, hidden)

    data = get("/status/acme.json").json()

    assert data["incidents"][0]["monitors"] == ["API"]
    assert "Secret backend" not in get("/status/acme").content.decode()


@pytest.mark.django_db
def test_scheduled_maintenance_of_the_pages_monitors_is_shown():
    project = alice_project()
    api, other = make_site(project, "API"), make_site(project, "Elsewhere")
    make_page(project, [api])
    now = timezone.now()
    soon = MaintenanceWindow.objects.create(
        project=project,
        title="Database upgrade",
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=2),
    )
    soon.sites.add(api)
    unrelated = MaintenanceWindow.objects.create(
        project=project,
        title="Unrelated work",
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=2),
    )
    unrelated.sites.add(other)
    MaintenanceWindow.objects.create(
        project=other_project(),
        title="Bob's window",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )

    data = get("/status/acme.json").json()
    body = get("/status/acme").content.decode()

    assert [w["title"] for w in data["maintenance"]] == ["Database upgrade"]
    assert data["maintenance"][0]["active"] is False
    assert data["maintenance"][0]["monitors"] == ["API"]
    assert "Database upgrade" in body and "Unrelated work" not in body and "Bob" not in body
    assert data["status"]["indicator"] == "operational"


@pytest.mark.django_db
def test_the_logo_is_served_with_its_type_nosniff_and_a_long_cache():
    page = make_page(alice_project(), [make_site(alice_project(), "API")])
    StatusPage.objects.filter(pk=page.pk).update(
        logo=b"\x89PNG\r\n\x1a\nfake", logo_type="image/png"
    )

    body = get("/status/acme").content.decode()
    response = get("/status/acme/logo")

    assert '<img class="sp-logo" src="/status/acme/logo?v=' in body
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "max-age=31536000" in response["Cache-Control"]
    assert response.content == b"\x89PNG\r\n\x1a\nfake"


@pytest.mark.django_db
def test_a_page_without_logo_has_no_logo_route():
    make_page(alice_project(), [])
    assert get("/status/acme/logo").status_code == 404


@pytest.mark.django_db
def test_only_get_and_head_are_answered():
    make_page(alice_project(), [])
    assert Client().post("/status/acme").status_code == 405
    assert Client().head("/status/acme").status_code == 200


@pytest.mark.django_db
def test_an_unchanged_page_answers_304_to_its_etag():
    make_page(alice_project(), [make_site(alice_project(), "API")])
    first = get("/status/acme")
    again = get("/status/acme", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


@pytest.mark.django_db
def test_a_gzip_client_gets_the_page_compressed():
    import gzip

    make_page(alice_project(), [make_site(alice_project(), "API")])
    plain = get("/status/acme")
    packed = get("/status/acme", HTTP_ACCEPT_ENCODING="gzip, br")
    assert packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content) == plain.content
    assert "Accept-Encoding" in packed["Vary"]


@pytest.mark.django_db
def test_under_uptime_https_the_page_redirects_to_https_and_carries_hsts():
    from django.test import override_settings

    make_page(alice_project(), [make_site(alice_project(), "API")])
    with override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=3600):
        plain = get("/status/acme")
        secure = Client().get("/status/acme", secure=True)

    assert plain.status_code == 301 and plain["Location"] == "https://testserver/status/acme"
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=3600")
    assert secure["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in secure["Content-Security-Policy"]
