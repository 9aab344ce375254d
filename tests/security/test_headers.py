"""Finding 5: a Content-Security-Policy, a Permissions-Policy and no-store where secrets show."""

import re
from pathlib import Path

import pytest
from django.conf import settings

STRICT_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["/login", "/admin/login/", "/healthz", "/nowhere"])
def test_every_page_carries_the_strict_csp_and_a_permissions_policy(client, db, path):
    response = client.get(path)
    assert response["Content-Security-Policy"] == STRICT_CSP
    assert "camera=()" in response["Permissions-Policy"]
    assert "microphone=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]


def test_the_dashboard_carries_the_strict_csp(client, user):
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == STRICT_CSP


@pytest.mark.parametrize("path", ["/api/status", "/api/site", "/api/nowhere"])
def test_api_answers_are_never_stored(api_client, path):
    response = api_client.get(path)
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Security-Policy"] == STRICT_CSP


def test_an_anonymous_api_refusal_is_never_stored_either(anon_client, db):
    response = anon_client.get("/api/status")
    assert response.status_code == 401
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/account", "/account/tokens", "/invite/some-key"])
def test_pages_that_show_secrets_are_never_stored(client, user, path):
    client.force_login(user)
    assert "no-store" in client.get(path)["Cache-Control"]


@pytest.mark.parametrize("path", ["/api/docs", "/api/redoc"])
def test_the_api_docs_answer_under_their_own_policy_which_allows_no_foreign_script(
    client, user, path
):
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    # Every script of the page is a file of ours, so script-src 'self' runs it.
    page = response.content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []


def test_the_swagger_ui_bootstrap_script_is_a_separate_file(client, user):
    client.force_login(user)
    response = client.get("/api/docs?script=")
    assert response.status_code == 200
    assert "SwaggerUIBundle" in response.content.decode()


def _templates() -> list[Path]:
    return [*(ROOT / "templates").rglob("*.html"), *(ROOT / "sites" / "static").rglob("*.html")]


@pytest.mark.parametrize("template", _templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_inline_script_style_or_event_handlers(template):
    """The strict policy blocks them; they would silently stop working."""
    text = template.read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text) == []
    assert "<style" not in text
    assert re.findall(r"\sstyle=", text) == []
    assert re.findall(r"\son[a-z]+=", text) == []
    assert "javascript:" not in text


def test_htmx_is_told_not_to_inject_styles_nor_to_eval(client, user):
    client.force_login(user)
    page = client.get("/").content.decode()
    assert '"includeIndicatorStyles": false' in page
    assert '"allowEval": false' in page


def test_the_csp_setting_is_the_one_documented():
    assert settings.UPTIME_CSP == STRICT_CSP
