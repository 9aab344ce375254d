"""A page served at / of its own host name, outside ALLOWED_HOSTS."""

import pytest
from django.test import Client

from statuspages.models import StatusPage
from tests.factories import alice_project
from tests.statuspages.test_public import empty_cache, make_page, make_site

__all__ = ["empty_cache"]
DOMAIN = "status.example.invalid"


@pytest.fixture
def page(db):
    project = alice_project()
    return make_page(project, [make_site(project, "API")], custom_domain=DOMAIN)


def on(host: str, path: str = "/", method: str = "get"):
    return getattr(Client(), method)(path, HTTP_HOST=host)


def test_the_page_is_served_at_the_root_of_its_domain(page):
    response = on(DOMAIN)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Acme status" in body and "API" in body
    assert 'href="/feed.rss"' in body and 'href="/status.json"' in body
    assert "/status/acme" not in body


def test_the_host_is_matched_without_port_or_case(page):
    assert on("Status.Example.INVALID:8443").status_code == 200


def test_its_json_feeds_and_logo_are_served_there(page):
    StatusPage.objects.filter(pk=page.pk).update(logo=b"GIF89a", logo_type="image/gif")

    data = on(DOMAIN, "/status.json").json()
    rss = on(DOMAIN, "/feed.rss").content.decode()
    atom = on(DOMAIN, "/feed.atom")
    logo = on(DOMAIN, "/logo")

    assert data["page"]["title"] == "Acme status"
    assert data["page"]["url"] == "/"
    assert "<link>http://status.example.invalid/</link>" in rss
    assert atom.status_code == 200
    assert (logo.status_code, logo["Content-Type"], logo.content) == (200, "image/gif", b"GIF89a")


def test_everything_else_on_that_host_is_404(page):
    for path in ("/status/acme", "/login", "/api/sites", "/admin/", "/feed.rss/x", "/healthz"):
        assert on(DOMAIN, path).status_code == 404, path


def test_only_get_and_head_are_answered(page):
    assert on(DOMAIN, "/", "post").status_code == 405
    assert on(DOMAIN, "/", "head").status_code == 200


def test_the_page_is_still_served_at_its_slug(page):
    assert Client().get("/status/acme").status_code == 200


def test_an_unknown_host_is_refused_as_before(page):
    assert on("other.example.invalid").status_code == 400


def test_an_allowed_host_is_the_application_as_usual(page):
    assert on("127.0.0.1", "/status/acme").status_code == 200
    assert on("127.0.0.1", "/feed.rss").status_code == 404  # no such route of the application


def test_a_domain_given_to_a_page_later_is_found_once_the_page_is_invalidated(db):
    from statuspages.cache import invalidate_pages

    project = alice_project()
    page = make_page(project, [make_site(project, "API")])
    assert on(DOMAIN).status_code == 400  # remembered as no page's domain

    page.custom_domain = DOMAIN
    page.save()
    invalidate_pages([page.pk])

    assert on(DOMAIN).status_code == 200
