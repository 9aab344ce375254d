"""Every API route needs credentials: a token for scripts, a session (with CSRF) for the browser."""

import pytest
from rest_framework.test import APIClient

from monitor.models import Check
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project

# (method, path, JSON body); "{id}" is filled with a real site's id.
ROUTES = [
    ("get", "/api/ping/http://127.0.0.1:9/", None),
    ("get", "/api/site", None),
    ("post", "/api/site", {"url": "http://127.0.0.1:8001/"}),
    ("get", "/api/site/{id}", None),
    ("patch", "/api/site/{id}", {"name": "renamed"}),
    ("delete", "/api/site/{id}", None),
    ("post", "/api/check/{id}", None),
    ("post", "/api/check-all", None),
    ("get", "/api/status", None),
    ("get", "/api/schema", None),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in ROUTES]
CSRF_SECRET = "a" * 32  # any 32 letters and digits is a well-formed CSRF secret


@pytest.fixture
def site(db, refused_url):
    return site_create(project=alice_project(), url=refused_url, name="mine")


def call(client: APIClient, method: str, path: str, body: dict | None, site: Site, **extra):
    return getattr(client, method)(path.format(id=site.id), body, format="json", **extra)


@pytest.mark.parametrize("method, path, body", ROUTES, ids=ROUTE_IDS)
def test_every_route_answers_401_with_a_token_challenge_without_credentials(
    anon_client, site, method, path, body
):
    response = call(anon_client, method, path, body, site)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "credentials were not provided" in response.json()["detail"]


def test_an_anonymous_request_changes_nothing(anon_client, site):
    for method, path, body in ROUTES:
        call(anon_client, method, path, body, site)
    site.refresh_from_db()
    assert site.name == "mine" and Site.objects.count() == 1
    assert not Check.objects.exists()


@pytest.mark.parametrize("method, path, body", ROUTES, ids=ROUTE_IDS)
def test_every_route_answers_with_a_valid_token(api_client, site, method, path, body):
    response = call(api_client, method, path, body, site)
    assert response.status_code in {200, 201, 202, 204}, response.content


def test_an_unknown_token_is_401(site):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/site")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


@pytest.fixture
def browser(user):
    """A logged-in browser session; CSRF is checked as a real browser's would be."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_a_logged_in_browser_can_read_with_its_session(browser, site):
    response = browser.get("/api/site")
    assert response.status_code == 200
    assert response.json()["sites"][0]["id"] == site.id


def test_a_session_write_without_a_csrf_token_is_refused(browser, db):
    response = browser.post("/api/site", {"url": "http://127.0.0.1:8001/"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Site.objects.exists()


def test_a_session_write_with_the_csrf_token_is_accepted(browser, db):
    browser.cookies["csrftoken"] = CSRF_SECRET
    response = browser.post(
        "/api/site",
        {"url": "http://127.0.0.1:8001/"},
        format="json",
        HTTP_X_CSRFTOKEN=CSRF_SECRET,
    )
    assert response.status_code == 201
    assert Site.objects.count() == 1
