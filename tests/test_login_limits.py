"""Failed sign-ins are limited per username and address, and per address.

allauth counts them (ACCOUNT_RATE_LIMITS["login_failed"], built by accounts.limits).
"""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accounts.limits import account_rate_limits

WRONG = {"login": "alice", "password": "not-the-password"}
RIGHT = {"login": "alice", "password": "s3cret-pass"}
SETUP_BAD = {"username": "admin", "password1": "kestrel-orbit-42", "password2": "different-42"}
SETUP_GOOD = {"username": "admin", "password1": "kestrel-orbit-42", "password2": "kestrel-orbit-42"}


@pytest.fixture(autouse=True)
def limits(settings):
    set_limits(settings, per_ip=20)
    cache.clear()
    yield
    cache.clear()


def set_limits(settings, *, per_user: int = 5, per_ip: int = 20) -> None:
    settings.ACCOUNT_RATE_LIMITS = account_rate_limits(
        failures_per_user=per_user, failures_per_ip=per_ip, window_minutes=15
    )


def fail(client, times, data=WRONG, **extra):
    return [client.post(reverse("login"), data, **extra).status_code for _ in range(times)]


def test_five_failures_then_the_right_password_is_refused_with_429(client, user):
    assert fail(client, 5) == [200] * 5
    response = client.post(reverse("login"), RIGHT)
    assert response.status_code == 429
    assert "Too many failed attempts. Try again in 15 minutes." in response.content.decode()
    assert 14 * 60 < int(response["Retry-After"]) <= 15 * 60
    assert SESSION_KEY not in client.session


def test_a_locked_out_attempt_never_reaches_the_password_check(client, user, monkeypatch):
    fail(client, 5)
    checked = []
    monkeypatch.setattr("allauth.account.adapter.authenticate", lambda *a, **k: checked.append(k))
    assert client.post(reverse("login"), RIGHT).status_code == 429
    assert checked == []


def test_the_lockout_counts_the_username_in_any_case(client, user):
    fail(client, 5, {**WRONG, "login": "ALICE"})
    assert client.post(reverse("login"), RIGHT).status_code == 429


def test_another_username_from_the_same_address_may_still_try(client, user, django_user_model):
    django_user_model.objects.create_user(username="bob", password="bobs-pass-9")
    fail(client, 5)
    response = client.post(reverse("login"), {"login": "bob", "password": "bobs-pass-9"})
    assert response.status_code == 302


def test_the_same_username_from_another_address_may_still_try(client, user):
    fail(client, 5, REMOTE_ADDR="203.0.113.7")
    assert client.post(reverse("login"), RIGHT, REMOTE_ADDR="203.0.113.8").status_code == 302


def test_an_address_trying_many_usernames_is_locked_out(client, user, settings):
    set_limits(settings, per_ip=3)
    for name in ("bob", "carol", "dave"):
        assert fail(client, 1, {"login": name, "password": "guess"}) == [200]
    assert client.post(reverse("login"), RIGHT).status_code == 429


def test_a_successful_login_forgets_that_usernames_failures(client, user):
    fail(client, 4)
    assert client.post(reverse("login"), RIGHT).status_code == 302
    client.logout()
    assert fail(client, 5) == [200] * 5
    assert client.post(reverse("login"), RIGHT).status_code == 429


def test_the_lockout_ends_when_its_window_has_passed(client, user):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fail(client, 5)
        clock.shift(timedelta(minutes=14))
        response = client.post(reverse("login"), RIGHT)
        assert response.status_code == 429
        assert "Try again in 1 minute." in response.content.decode()
        clock.shift(timedelta(minutes=1, seconds=1))
        assert client.post(reverse("login"), RIGHT).status_code == 302


def test_failed_setup_submissions_are_limited_while_setup_exists(client, db):
    statuses = [client.post(reverse("setup"), SETUP_BAD).status_code for _ in range(5)]
    assert statuses == [200] * 5
    response = client.post(reverse("setup"), SETUP_GOOD)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    assert not get_user_model().objects.exists()


def test_setup_from_another_address_still_works_during_a_lockout(client, db):
    for _ in range(5):
        client.post(reverse("setup"), SETUP_BAD, REMOTE_ADDR="203.0.113.7")
    response = client.post(reverse("setup"), SETUP_GOOD, REMOTE_ADDR="203.0.113.8")
    assert response.status_code == 302
    assert get_user_model().objects.get().username == "admin"


def test_setup_is_gone_once_an_account_exists_even_for_a_locked_out_address(client, db):
    for _ in range(5):
        client.post(reverse("setup"), SETUP_BAD)
    assert client.post(reverse("setup"), SETUP_GOOD).status_code == 429
    get_user_model().objects.create_superuser(username="root", password="x")
    assert client.post(reverse("setup"), SETUP_GOOD).status_code == 404
