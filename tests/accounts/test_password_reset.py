"""Password reset end to end: the mail goes through a real SMTP server."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from teams.models import AuditEvent
from tests.accounts.conftest import link_in, parts_of

NEW_PASSWORD = "violet-harbour-93"


@pytest.fixture
def alice_with_email(user):
    user.email = "alice@example.invalid"
    user.save()
    return user


def test_a_reset_mail_arrives_and_its_link_sets_a_password_that_logs_in(
    client, alice_with_email, smtp_server
):
    response = client.post(reverse("account_reset_password"), {"email": "alice@example.invalid"})
    assert response.status_code == 302

    message = smtp_server.only()
    assert message["To"] == "alice@example.invalid"
    assert message["From"] == "uptime@localhost"
    text, html = parts_of(message)
    path = link_in(text)
    assert path in html

    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path
    response = client.post(set_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302

    alice_with_email.refresh_from_db()
    assert alice_with_email.check_password(NEW_PASSWORD)
    client.logout()
    response = client.post(reverse("login"), {"login": "alice", "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert SESSION_KEY in client.session
    assert AuditEvent.objects.filter(
        action="account.password_reset", actor=alice_with_email
    ).exists()


def test_a_used_reset_link_does_not_work_twice(client, alice_with_email, smtp_server):
    client.post(reverse("account_reset_password"), {"email": "alice@example.invalid"})
    path = link_in(parts_of(smtp_server.only())[0])
    page = client.get(path, follow=True)
    set_url = page.redirect_chain[-1][0] if page.redirect_chain else path
    client.post(set_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    again = client.get(path, follow=True)
    response = client.post(
        again.redirect_chain[-1][0] if again.redirect_chain else path,
        {"password1": "another-pass-77", "password2": "another-pass-77"},
    )

    alice_with_email.refresh_from_db()
    assert alice_with_email.check_password(NEW_PASSWORD)
    assert response.status_code == 200
    assert "Bad Token" in response.content.decode() or "invalid" in response.content.decode()


def test_an_unknown_address_gets_the_same_answer_and_a_mail_without_a_link(
    client, alice_with_email, smtp_server
):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.invalid"})

    assert response.status_code == 302
    message = smtp_server.only()
    assert message["To"] == "nobody@example.invalid"
    assert "/accounts/password/reset/key/" not in message.get_body(("plain",)).get_content()


def test_reset_requests_are_limited_per_address(client, alice_with_email, smtp_server, settings):
    from accounts.limits import account_rate_limits

    settings.ACCOUNT_RATE_LIMITS = account_rate_limits(
        failures_per_user=5, failures_per_ip=20, window_minutes=15
    )
    statuses = [
        client.post(
            reverse("account_reset_password"), {"email": "alice@example.invalid"}
        ).status_code
        for _ in range(6)
    ]

    # allauth: 5 requests a minute for one address typed ("5/m/key").
    assert statuses == [302] * 5 + [429]
    assert len(smtp_server.messages) == 5
