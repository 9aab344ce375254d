"""RSS and Atom feeds of a page's incidents, updates and maintenance."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.models import MaintenanceWindow
from tests.factories import alice_project
from tests.statuspages.test_public import (
    SECRET_ERROR,
    SECRET_URL,
    empty_cache,
    get,
    make_incident,
    make_page,
    make_site,
    other_project,
)

__all__ = ["empty_cache"]
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def page(db):
    project = alice_project()
    api = make_site(project, "API", url=SECRET_URL, status="down", last_error_message=SECRET_ERROR)
    page = make_page(project, [api])
    incident = make_incident(page, "Elevated errors")
    incident.sites.add(api)
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        project=project,
        title="Database upgrade",
        description="Expect a minute of read-only mode.",
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=1),
    )
    window.sites.add(api)
    make_incident(make_page(other_project(), [], slug="bob"), "Bob's secret incident")
    return page


def test_the_rss_feed_has_each_update_and_the_maintenance(page):
    response = get("/status/acme/feed.rss")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    channel = ET.fromstring(response.content).find("channel")
    assert channel.findtext("title") == "Acme status"
    assert channel.findtext("link") == "http://testserver/status/acme"
    titles = [item.findtext("title") for item in channel.findall("item")]
    assert titles == [
        "Scheduled maintenance: Database upgrade",
        "Elevated errors: Identified",
        "Elevated errors: Investigating",
    ]
    texts = [item.findtext("description") for item in channel.findall("item")]
    assert "A bad deploy; rolling back." in texts[1] and "Affects: API" in texts[1]
    assert "read-only mode" in texts[0]
    links = {item.findtext("link") for item in channel.findall("item")}
    assert all(link.startswith("http://testserver/status/acme#") for link in links)
    guids = [item.findtext("guid") for item in channel.findall("item")]
    assert len(set(guids)) == 3


def test_the_atom_feed_has_the_same_entries(page):
    response = get("/status/acme/feed.atom")

    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "Scheduled maintenance: Database upgrade",
        "Elevated errors: Identified",
        "Elevated errors: Investigating",
    ]
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == (
        "http://testserver/status/acme/feed.atom"
    )


def test_feeds_leak_nothing_internal_nor_other_pages(page):
    for path in ("/status/acme/feed.rss", "/status/acme/feed.atom"):
        text = get(path).content.decode()
        assert "internal-secret" not in text
        assert SECRET_ERROR not in text
        assert "Bob's secret incident" not in text


def test_a_new_update_shows_in_the_feed_once_the_page_is_invalidated(page):
    from statuspages.cache import invalidate_pages
    from statuspages.models import StatusIncident, StatusIncidentUpdate

    assert "Resolved" not in get("/status/acme/feed.rss").content.decode()
    incident = StatusIncident.objects.get(page=page)
    StatusIncidentUpdate.objects.create(incident=incident, status="resolved", message="Fixed.")
    invalidate_pages([page.pk])

    assert "Elevated errors: Resolved" in get("/status/acme/feed.rss").content.decode()
