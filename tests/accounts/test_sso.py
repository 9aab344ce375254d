"""Single sign-on end to end against a real OpenID Connect provider in a second process.

The provider is django-oauth-toolkit (tests/oidc_provider), on 127.0.0.1 with
an RSA key made for this run. Uptime is driven with Django's test client; the
browser's visit to the provider is a requests.Session. Nothing is mocked:
allauth fetches the discovery document and redeems the code over HTTP.
"""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import SESSION_KEY, get_user_model
from django.urls import reverse

from teams.invitations import invitation_create
from teams.models import Membership, Role
from teams.services import project_create
from tests.factories import alice

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "uptime-tests"
CLIENT_SECRET = "uptime-tests-client-secret"
CALLBACK = "http://testserver/accounts/oidc/sso/login/callback/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def identity_provider(tmp_path_factory):
    """The provider's issuer URL, serving until the module's tests are done."""
    directory = tmp_path_factory.mktemp("oidc-provider")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (directory / "signing-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    port = free_port()
    issuer = f"http://127.0.0.1:{port}/o"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
        "OIDC_PROVIDER_DIR": str(directory),
        "OIDC_PROVIDER_ISSUER": issuer,
        "PYTHONPATH": str(ROOT),
    }
    seed = [sys.executable, "-m", "tests.oidc_provider.seed", CALLBACK, CLIENT_ID, CLIENT_SECRET]
    subprocess.run(seed, cwd=ROOT, env=env, check=True, timeout=60)
    server = subprocess.Popen(
        [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_serving(f"{issuer}/.well-known/openid-configuration", server)
        yield issuer
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_until_serving(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, "the identity provider exited"
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError("the identity provider did not start")


@pytest.fixture
def sso(settings, identity_provider):
    """Uptime configured as UPTIME_OIDC_* would (uptime.settings._oidc_providers)."""
    app = {
        "provider_id": "sso",
        "name": "Test IdP",
        "client_id": CLIENT_ID,
        "secret": CLIENT_SECRET,
        "settings": {"server_url": identity_provider},
    }
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": [app]}
    }
    return identity_provider


def sign_in_at_provider(authorize_url: str) -> str:
    """A browser at the provider: log in as erin, consent; returns the callback path."""
    browser = requests.Session()
    page = browser.get(authorize_url, timeout=10)
    assert urlsplit(page.url).path == "/login/", page.url
    page = browser.post(
        page.url,
        data={
            "username": "erin",
            "password": "provider-pass-31",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "next": re.search(r'name="next" value="([^"]*)"', page.text)
            .group(1)
            .replace("&amp;", "&"),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert page.status_code == 302
    consent = browser.get(urljoin(authorize_url, page.headers["Location"]), timeout=10)
    assert consent.status_code == 200
    assert "Authorize" in consent.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
    fields = {name: value.replace("&amp;", "&") for name, value in fields.items()}
    answer = browser.post(
        consent.url,
        data={**fields, "csrfmiddlewaretoken": browser.cookies["csrftoken"], "allow": "Authorize"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK), location
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def start_sign_in(client, next_url: str = "") -> str:
    """Press "Sign in with Test IdP": the provider's authorize URL Uptime redirects to."""
    url = reverse("openid_connect_login", kwargs={"provider_id": "sso"})
    response = client.post(url + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302
    assert response["Location"].startswith("http://127.0.0.1:")
    return response["Location"]


def test_the_login_page_offers_the_identity_provider(client, db, sso):
    alice()

    page = client.get(reverse("login")).content.decode()

    assert "Sign in with Test IdP" in page


def test_signing_in_with_the_provider_creates_an_account_and_signs_in(client, db, sso):
    alice()  # not the first run

    authorize_url = start_sign_in(client)
    response = client.get(sign_in_at_provider(authorize_url))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    erin = get_user_model().objects.get(username="erin")
    assert erin.email == "erin@example.invalid"
    assert not erin.is_staff
    assert int(client.session[SESSION_KEY]) == erin.pk
    assert SocialAccount.objects.get(user=erin).provider == "sso"
    assert erin.personal_project is not None
    assert client.get(reverse("dashboard")).status_code == 200


def test_an_invitee_signs_in_with_the_provider_and_joins_with_the_role(
    client, db, sso, smtp_server
):
    project = project_create(user=alice(), name="Shop")
    _, key = invitation_create(
        project=project,
        email="erin@example.invalid",
        role=Role.VIEWER,
        invited_by=alice(),
        base_url="http://testserver",
    )
    invite_path = reverse("invitation_accept", args=[key])
    page = client.get(invite_path)
    assert "Sign in with Test IdP" in page.content.decode()

    client.get(sign_in_at_provider(start_sign_in(client, invite_path)))

    erin = get_user_model().objects.get(username="erin")
    assert Membership.objects.get(user=erin, project=project).role == Role.VIEWER


def test_a_forged_callback_signs_nobody_in(client, db, sso):
    alice()
    start_sign_in(client)

    response = client.get(
        reverse("openid_connect_callback", kwargs={"provider_id": "sso"}),
        {"code": "made-up", "state": "made-up"},
    )

    assert response.status_code == 401  # allauth's authentication error page
    assert SESSION_KEY not in client.session
    assert not get_user_model().objects.filter(username="erin").exists()


def test_forged_callbacks_past_the_limit_are_refused_with_429_before_being_looked_at(
    client, db, sso, settings, monkeypatch
):
    from accounts.limits import account_rate_limits

    settings.ACCOUNT_RATE_LIMITS = account_rate_limits(
        failures_per_user=5, failures_per_ip=3, window_minutes=15
    )
    start_sign_in(client)
    callback = reverse("openid_connect_callback", kwargs={"provider_id": "sso"})
    forged = {"code": "made-up", "state": "made-up"}
    statuses = [client.get(callback, forged).status_code for _ in range(3)]
    looked_at = []
    monkeypatch.setattr(
        "allauth.socialaccount.providers.oauth2.views.OAuth2CallbackView.dispatch",
        lambda *args, **kwargs: looked_at.append(args),
    )

    response = client.get(callback, forged)

    assert statuses == [401] * 3
    assert response.status_code == 429
    assert 14 * 60 < int(response["Retry-After"]) <= 15 * 60
    assert "Too many failed attempts" in response.content.decode()
    assert looked_at == []
