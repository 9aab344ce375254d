"""Finding 6: API tokens die with a password change or a deactivation; the admin shows no key."""

import pytest
from django.contrib.auth import get_user_model

from teams.models import ApiToken
from teams.tokens import token_create


@pytest.fixture
def tokens(user):
    token_create(user=user, name="ci")
    _, key = token_create(user=user, name="grafana", read_only=True)
    return key


def test_changing_the_password_revokes_every_token(user, tokens, api_client):
    user.set_password("a-new-pass-phrase-42")
    user.save()
    assert not ApiToken.objects.filter(user=user).exists()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {tokens}")
    assert api_client.get("/api/status").status_code == 401


def test_a_password_changed_through_the_form_path_revokes_tokens(user, tokens):
    user.set_password("another-pass-phrase-42")
    user.save(update_fields=["password"])
    assert not ApiToken.objects.filter(user=user).exists()


def test_deactivating_the_account_revokes_every_token(user, tokens):
    user.is_active = False
    user.save()
    assert not ApiToken.objects.filter(user=user).exists()


def test_other_changes_to_the_account_keep_the_tokens(user, tokens, client):
    user.email = "alice@example.com"
    user.save()
    response = client.post("/login", {"login": "alice", "password": "s3cret-pass"})
    assert response.status_code == 302  # signing in saves last_login (and may re-hash)
    assert ApiToken.objects.filter(user=user).count() == 2


def test_another_users_tokens_are_untouched(user, tokens):
    bob = get_user_model().objects.create_user("bob", password="bob-pass-phrase-42")
    token_create(user=bob, name="bob's")
    user.set_password("a-new-pass-phrase-42")
    user.save()
    assert ApiToken.objects.filter(user=bob).count() == 1


def test_the_admin_lists_tokens_by_name_and_prefix_never_the_digest(admin_client, user, tokens):
    token = ApiToken.objects.get(name="grafana")
    listing = admin_client.get("/admin/teams/apitoken/")
    assert listing.status_code == 200
    assert "grafana" in listing.text and token.prefix in listing.text
    page = admin_client.get(f"/admin/teams/apitoken/{token.pk}/change/")
    assert page.status_code == 200
    for text in (listing.text, page.text):
        assert token.digest not in text
        assert tokens not in text


def test_the_admin_cannot_make_a_token(admin_client):
    assert admin_client.get("/admin/teams/apitoken/add/").status_code == 403


def test_staff_status_alone_does_not_open_the_admin(client, db):
    staff = get_user_model().objects.create_user(
        "staffer", password="staff-pass-phrase-42", is_staff=True
    )
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_password_change_page_says_the_tokens_will_be_revoked(user, tokens, client):
    client.force_login(user)

    page = client.get("/accounts/password/change/").content.decode()

    assert "also revokes your 2 API tokens" in page


def test_changing_the_password_on_the_page_revokes_the_tokens(user, tokens, client):
    client.force_login(user)

    response = client.post(
        "/accounts/password/change/",
        {
            "oldpassword": "s3cret-pass",
            "password1": "a-new-pass-42x",
            "password2": "a-new-pass-42x",
        },
    )

    assert response.status_code == 302
    assert not ApiToken.objects.filter(user=user).exists()
