"""Two-factor login with TOTP and recovery codes (allauth.mfa), end to end."""

import time
from datetime import timedelta

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.limits import account_rate_limits
from teams.models import AuditEvent
from teams.services import personal_project_ensure
from tests.factories import ALICE

RIGHT = {"login": ALICE["username"], "password": ALICE["password"]}


def code_for(secret: str) -> str:
    """The TOTP code an authenticator app shows now (allauth's RFC 6238 helper)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


@pytest.fixture
def clock():
    # Frozen, so a code and the 30-second step it belongs to cannot drift apart;
    # tests move it on, since allauth refuses a code used once already.
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def activation_secret(client, password: str = ALICE["password"]) -> str:
    """Open allauth's TOTP setup page (it asks the password again first); the secret it shows."""
    page = client.get(reverse("mfa_activate_totp"))
    if page.status_code == 302:
        assert page["Location"].startswith(reverse("account_reauthenticate"))
        assert client.post(page["Location"], {"password": password}).status_code == 302
        page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    return page.context["form"].secret


def enable_totp(client, clock) -> tuple[str, list[str]]:
    """Log in, set up TOTP through allauth's page; returns the secret and the recovery codes."""
    assert client.post(reverse("login"), RIGHT).status_code == 302
    secret = activation_secret(client)
    response = client.post(reverse("mfa_activate_totp"), {"code": code_for(secret)})
    assert response.status_code == 302
    codes = Authenticator.objects.get(type=Authenticator.Type.RECOVERY_CODES).wrap()
    client.post(reverse("logout"))
    clock.shift(timedelta(seconds=60))
    return secret, codes.get_unused_codes()


def password_step(client):
    response = client.post(reverse("login"), RIGHT)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert SESSION_KEY not in client.session
    return response


def test_with_totp_on_the_password_alone_does_not_log_in_and_the_code_does(client, user, clock):
    secret, _ = enable_totp(client, clock)

    password_step(client)
    assert client.get(reverse("dashboard")).status_code == 302
    response = client.post(reverse("mfa_authenticate"), {"code": code_for(secret)})

    assert response.status_code == 302
    assert int(client.session[SESSION_KEY]) == user.pk
    assert client.get(reverse("dashboard")).status_code == 200


def test_turning_2fa_on_and_off_is_audited(client, user, clock, django_capture_on_commit_callbacks):
    client.post(reverse("login"), RIGHT)
    secret = activation_secret(client)
    # allauth sends its signals after commit.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("mfa_activate_totp"), {"code": code_for(secret)})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mfa_deactivate_totp"))

    assert response.status_code == 302
    actions = list(AuditEvent.objects.filter(actor=user).values_list("action", "detail"))
    assert ("account.2fa_enabled", {"type": "totp"}) in actions
    assert ("account.2fa_disabled", {"type": "totp"}) in actions


def test_a_wrong_code_is_refused(client, user, clock):
    secret, _ = enable_totp(client, clock)
    password_step(client)
    wrong = f"{(int(code_for(secret)) + 1) % 1000000:06d}"

    response = client.post(reverse("mfa_authenticate"), {"code": wrong})

    assert response.status_code == 200
    assert "Incorrect code" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_recovery_code_logs_in_once(client, user, clock):
    _, codes = enable_totp(client, clock)

    password_step(client)
    assert client.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 302
    assert SESSION_KEY in client.session
    client.post(reverse("logout"))

    password_step(client)
    response = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert response.status_code == 200
    assert SESSION_KEY not in client.session


def test_code_guessing_is_limited_like_passwords(client, user, clock, settings):
    secret, _ = enable_totp(client, clock)
    settings.ACCOUNT_RATE_LIMITS = account_rate_limits(
        failures_per_user=3, failures_per_ip=20, window_minutes=15
    )
    password_step(client)
    for _ in range(3):
        client.post(reverse("mfa_authenticate"), {"code": "000000"})

    response = client.post(reverse("mfa_authenticate"), {"code": code_for(secret)})

    assert response.status_code == 429
    assert 14 * 60 < int(response["Retry-After"]) <= 15 * 60
    assert "Too many failed attempts. Try again in 15 minutes." in response.content.decode()
    assert SESSION_KEY not in client.session


def test_wrong_codes_count_against_the_address_like_wrong_passwords(client, user, clock, settings):
    secret, _ = enable_totp(client, clock)
    settings.ACCOUNT_RATE_LIMITS = account_rate_limits(
        failures_per_user=20, failures_per_ip=3, window_minutes=15
    )
    password_step(client)
    for _ in range(3):
        client.post(reverse("mfa_authenticate"), {"code": "000000"})

    response = Client().post(reverse("login"), {"login": "nobody", "password": "x"})

    assert response.status_code == 429


def test_the_two_factor_page_is_linked_from_the_header(client, user):
    client.force_login(user)

    page = client.get(reverse("dashboard")).content.decode()

    assert f'href="{reverse("mfa_index")}"' in page


# --- the admin --------------------------------------------------------------


def test_the_admin_login_form_cannot_be_used_to_skip_the_second_factor(client, admin_user, clock):
    response = client.post(
        reverse("admin:login"), {"username": "admin", "password": "password", "next": "/admin/"}
    )

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
    assert SESSION_KEY not in client.session


def test_the_admin_asks_a_user_with_totp_for_the_code(client, admin_user, clock):
    client.force_login(admin_user)
    secret = activation_secret(client, "password")
    assert client.post(reverse("mfa_activate_totp"), {"code": code_for(secret)}).status_code == 302
    client.post(reverse("logout"))
    clock.shift(timedelta(seconds=60))

    start = client.get(reverse("admin:index"), follow=True)
    assert start.redirect_chain[-1][0].startswith(reverse("login"))
    response = client.post(
        reverse("login") + "?next=/admin/", {"login": "admin", "password": "password"}
    )
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get(reverse("admin:index")).status_code == 302
    response = client.post(reverse("mfa_authenticate"), {"code": code_for(secret)})
    assert response["Location"] == "/admin/"
    assert client.get(reverse("admin:index")).status_code == 200


def test_the_admin_login_shares_the_failure_limit(client, admin_user, settings):
    settings.ACCOUNT_RATE_LIMITS = account_rate_limits(
        failures_per_user=5, failures_per_ip=20, window_minutes=15
    )
    login_url = reverse("login") + "?next=/admin/"
    for _ in range(5):
        client.post(login_url, {"login": "admin", "password": "wrong"})

    response = client.post(login_url, {"login": "admin", "password": "password"})

    assert response.status_code == 429
    assert SESSION_KEY not in client.session


@pytest.fixture
def admin_requires_2fa(settings):
    settings.UPTIME_ADMIN_REQUIRES_2FA = True


def test_a_superuser_without_2fa_is_sent_from_the_admin_to_set_it_up(
    client, admin_user, admin_requires_2fa
):
    client.force_login(admin_user)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    page = client.get(reverse("admin:sites_site_changelist"), follow=True)
    assert "The admin requires two-factor authentication" in page.content.decode()


def test_a_superuser_with_totp_opens_the_admin(client, admin_user, clock, admin_requires_2fa):
    client.force_login(admin_user)
    secret = activation_secret(client, "password")
    assert client.post(reverse("mfa_activate_totp"), {"code": code_for(secret)}).status_code == 302

    assert client.get(reverse("admin:index")).status_code == 200


def test_without_the_rule_the_admin_opens_without_2fa(client, admin_user, settings):
    settings.UPTIME_ADMIN_REQUIRES_2FA = False
    client.force_login(admin_user)
    assert client.get(reverse("admin:index")).status_code == 200


def test_the_rule_is_on_unless_the_environment_turns_it_off():
    from uptime import settings as uptime_settings

    assert uptime_settings.UPTIME_ADMIN_REQUIRES_2FA is True


# --- projects that require it -------------------------------------------------


@pytest.fixture
def strict_project(user):
    project = personal_project_ensure(user=user)
    project.require_2fa = True
    project.save()
    return project


def test_a_member_of_a_project_requiring_2fa_is_sent_to_set_it_up(client, user, strict_project):
    response = client.post(reverse("login"), RIGHT)
    assert response.status_code == 302

    assert client.get(reverse("dashboard"))["Location"] == reverse("mfa_activate_totp")
    assert client.get(reverse("site_list"), HTTP_HX_REQUEST="true").status_code == 401
    assert client.get("/api/site").status_code == 403
    assert activation_secret(client)


def test_once_2fa_is_on_the_dashboard_opens(client, user, strict_project, clock):
    client.post(reverse("login"), RIGHT)
    secret = activation_secret(client)
    client.post(reverse("mfa_activate_totp"), {"code": code_for(secret)})

    assert client.get(reverse("dashboard")).status_code == 200


def test_the_api_with_a_token_is_not_affected(api_client, strict_project):
    assert api_client.get("/api/site").status_code == 200
