"""The API's documentation pages (/api/docs: Swagger UI, /api/redoc: Redoc):
behind a login like the schema, and built from local files only (no CDN)."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

PAGES = ["/api/docs", "/api/redoc"]


@pytest.fixture
def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", PAGES)
def test_a_docs_page_answers_a_logged_in_user(logged_in, path):
    response = logged_in.get(path)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    # Swagger UI's start-up script is a file of its own (?script=), for the CSP.
    script = logged_in.get(f"{path}?script=").text if path == "/api/docs" else response.text
    assert "/api/schema" in script


@pytest.mark.parametrize("path", PAGES)
def test_a_docs_page_refuses_an_anonymous_visitor(db, path):
    response = Client().get(path)

    assert response.status_code in (401, 403)
    assert "swagger" not in response.text.lower() and "redoc" not in response.text.lower()


@pytest.mark.parametrize("path", PAGES)
def test_a_docs_page_loads_nothing_from_another_host(logged_in, path):
    html = logged_in.get(path).text

    assert not re.findall(r"""(?:https?:)?//[\w.-]+\.[a-z]{2,}[^"'\s]*""", html, re.I)
    assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css|png))["']""", html)
    assert assets, "the page names its scripts"
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a local file"
