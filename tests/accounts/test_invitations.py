"""Invitations end to end: the mail through a real SMTP server, then joining from its link."""

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.urls import reverse

from teams.invitations import invitation_create
from teams.models import Membership, Role
from teams.services import project_create
from tests.accounts.conftest import link_in, parts_of
from tests.factories import alice

PASSWORD = "copper-lantern-58"


@pytest.fixture
def invited(db, smtp_server):
    """alice invites carol@example.invalid to "Shop" as editor; returns (project, link path)."""
    project = project_create(user=alice(), name="Shop")
    invitation_create(
        project=project,
        email="carol@example.invalid",
        role=Role.EDITOR,
        invited_by=alice(),
        base_url="http://testserver",
    )
    message = smtp_server.only()
    assert message["To"] == "carol@example.invalid"
    text, html = parts_of(message)
    path = link_in(text)
    assert path in html
    return project, path


def signup_data(**overrides) -> dict:
    data = {
        "username": "carol",
        "email": "carol@example.invalid",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "next": "/",
    }
    return {**data, **overrides}


def test_an_invitee_without_an_account_signs_up_on_the_invitation_page_and_joins(client, invited):
    project, path = invited

    page = client.get(path)
    assert page.status_code == 200
    assert "Join Shop" in page.content.decode()
    assert 'value="carol@example.invalid"' in page.content.decode()

    response = client.post(reverse("account_signup"), signup_data())

    assert response.status_code == 302
    carol = get_user_model().objects.get(username="carol")
    assert Membership.objects.get(user=carol, project=project).role == Role.EDITOR
    # ...and has her own personal project too, through the usual signal.
    assert carol.personal_project is not None
    assert int(client.session[SESSION_KEY]) == carol.pk
    client.logout()
    response = client.post(reverse("login"), {"login": "carol", "password": PASSWORD})
    assert response.status_code == 302


def test_without_an_invitation_sign_up_is_closed_by_default(client, db):
    response = client.post(reverse("account_signup"), signup_data())

    assert response.status_code == 200
    assert "closed" in response.content.decode().lower()
    assert not get_user_model().objects.filter(username="carol").exists()


def test_open_sign_up_lets_anyone_register(client, db, settings):
    settings.UPTIME_OPEN_SIGNUP = True
    alice()  # not the first account, so /login is not /setup

    response = client.post(reverse("account_signup"), signup_data())

    assert response.status_code == 302
    carol = get_user_model().objects.get(username="carol")
    assert not carol.is_staff
    assert list(Membership.objects.filter(user=carol).values_list("role", flat=True)) == ["owner"]


def test_a_signed_in_user_accepts_with_a_post(client, invited, django_user_model):
    project, path = invited
    dave = django_user_model.objects.create_user(username="dave", password=PASSWORD)
    client.force_login(dave)

    assert client.get(path).status_code == 200
    response = client.post(path)

    assert response.status_code == 302
    assert Membership.objects.get(user=dave, project=project).role == Role.EDITOR


def test_an_invitation_link_signs_up_only_once(client, invited, django_user_model):
    project, path = invited
    client.get(path)
    client.post(reverse("account_signup"), signup_data())
    client.logout()

    again = client.get(path)
    response = client.post(
        reverse("account_signup"), signup_data(username="mallory", email="m@example.invalid")
    )

    assert again.status_code == 404
    assert response.status_code == 200
    assert not django_user_model.objects.filter(username="mallory").exists()


def test_an_unknown_link_is_404(client, db):
    assert client.get(reverse("invitation_accept", args=["no-such-key"])).status_code == 404


def test_sign_up_submissions_are_limited_per_address(client, invited, settings):
    from accounts.limits import account_rate_limits

    settings.ACCOUNT_RATE_LIMITS = account_rate_limits(
        failures_per_user=5, failures_per_ip=20, window_minutes=15
    )
    _, path = invited
    client.get(path)
    bad = signup_data(password2="does-not-match-1")
    statuses = [client.post(reverse("account_signup"), bad).status_code for _ in range(21)]

    # allauth: 20 sign-up submissions a minute per address ("20/m/ip").
    assert statuses == [200] * 20 + [429]
