"""The user's page: API tokens listed, created (key shown once) and revoked; account links."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from teams.models import ApiToken
from teams.tokens import token_create, token_for_key
from tests.teams.pages_helpers import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


def text_of(response):
    return response.content.decode().replace("\xa0", " ")


def test_an_anonymous_visitor_is_sent_to_the_login_page(client, user):
    response = client.get(reverse("account"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_account_page_lists_tokens_with_prefix_scope_and_times(client_in, user):
    token, _ = token_create(user=user, name="Grafana", read_only=True)
    used = timezone.now() - timedelta(hours=3)
    ApiToken.objects.filter(pk=token.pk).update(
        last_used_at=used, expires_at=timezone.now() + timedelta(days=30)
    )

    page = text_of(client_in.get(reverse("account")))

    assert "Grafana" in page
    assert f"{token.prefix}…</code>" in page
    assert "Read-only" in page
    assert "3 hours ago" in page
    assert (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%d") in page


def test_the_account_page_links_to_password_two_factor_and_projects(client_in):
    page = text_of(client_in.get(reverse("account")))

    assert 'href="/accounts/password/change/"' in page
    assert 'href="/accounts/2fa/"' in page
    assert f'href="{reverse("projects")}"' in page


def test_another_users_tokens_are_not_listed(client_in):
    other = make_user("bob")
    token_create(user=other, name="Bob's secret pipeline")

    page = text_of(client_in.get(reverse("account")))

    assert "Bob&#x27;s secret pipeline" not in page and "secret pipeline" not in page


def test_creating_a_token_shows_its_key_once_and_never_caches_the_page(client_in, user):
    response = client_in.post(
        reverse("account_token_create"), {"name": "CI", "read_only": "on", "expires": "90"}
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = response.context["key"]
    assert key.startswith("upt_") and key in text_of(response)
    token = token_for_key(key)
    assert (token.user, token.name, token.read_only) == (user, "CI", True)
    assert timedelta(days=89) < token.expires_at - timezone.now() <= timedelta(days=90)
    # The key is not stored, so no later page can show it.
    assert key not in text_of(client_in.get(reverse("account")))


def test_a_token_without_a_name_is_refused_with_a_message(client_in, user):
    response = client_in.post(reverse("account_token_create"), {"name": "  "})

    assert response.status_code == 400
    assert "This field is required." in text_of(response)
    assert not ApiToken.objects.filter(user=user).exists()


def test_an_unknown_lifetime_is_refused(client_in, user):
    response = client_in.post(reverse("account_token_create"), {"name": "x", "expires": "9999"})

    assert response.status_code == 400
    assert not ApiToken.objects.filter(user=user).exists()


def test_revoking_a_token_stops_its_key_working(client_in, user):
    token, key = token_create(user=user, name="Old laptop")

    response = client_in.post(reverse("account_token_revoke", args=[token.pk]), follow=True)

    assert response.redirect_chain == [(reverse("account"), 302)]
    assert "Revoked Old laptop" in text_of(response)
    assert token_for_key(key) is None


def test_revoking_another_users_token_is_404_and_keeps_it(client_in):
    token, key = token_create(user=make_user("bob"), name="Bob's")

    response = client_in.post(reverse("account_token_revoke", args=[token.pk]))

    assert response.status_code == 404
    assert token_for_key(key) is not None


def test_token_writes_need_post(client_in, user):
    token, _ = token_create(user=user, name="x")

    assert client_in.get(reverse("account_token_create")).status_code == 405
    assert client_in.get(reverse("account_token_revoke", args=[token.pk])).status_code == 405


def test_the_header_links_to_projects_and_account(client_in):
    page = text_of(client_in.get(reverse("dashboard")))

    assert f'href="{reverse("projects")}"' in page
    assert f'href="{reverse("account")}"' in page
