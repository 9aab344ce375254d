"""One failed-attempt policy (accounts.limits) for every way in.

Each entry point: N failures, then the N+1th attempt answers 429 with
Retry-After without its credential being checked; the counter per address is
one for all of them; IPv6 counts by /64; a username failing from many
addresses is slowed down; the database cache is shared between processes.
"""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.limits import SLOWDOWN_MAX_SECONDS, account_rate_limits, address_key
from teams.invitations import invitation_create
from teams.models import AuditEvent, Role
from teams.services import project_create
from tests.factories import ALICE, alice
from uptime.throttling import client_address, client_key

ROOT = Path(__file__).resolve().parents[2]
RIGHT = {"login": ALICE["username"], "password": ALICE["password"]}
WRONG = {"login": ALICE["username"], "password": "not-the-password"}


@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()
    yield
    cache.clear()


def set_limits(settings, *, per_user: int = 5, per_ip: int = 20) -> None:
    settings.ACCOUNT_RATE_LIMITS = account_rate_limits(
        failures_per_user=per_user, failures_per_ip=per_ip, window_minutes=15
    )


def assert_locked_out(response) -> None:
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert "Too many failed attempts. Try again in" in response.content.decode()


def bad_token_call(**extra):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token upt_made-up")
    return client.get("/api/site", **extra)


# --- each entry point -------------------------------------------------------------


def test_wrong_api_tokens_lock_the_address_out_and_then_even_a_valid_token_gets_json_429(
    settings, token
):
    set_limits(settings, per_ip=3)
    assert [bad_token_call().status_code for _ in range(3)] == [401] * 3

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/site")

    assert response.status_code == 429
    assert 14 * 60 < int(response["Retry-After"]) <= 15 * 60
    assert response.json()["detail"].startswith("Too many failed attempts. Try again in 15 minutes")


def test_a_locked_out_address_has_no_token_looked_up(settings, token, monkeypatch):
    set_limits(settings, per_ip=2)
    bad_token_call()
    bad_token_call()
    looked_up = []
    monkeypatch.setattr("teams.tokens.token_for_key", lambda key: looked_up.append(key))

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/site").status_code == 429
    assert looked_up == []


def test_wrong_tokens_from_another_address_do_not_lock_this_one(settings, api_client):
    set_limits(settings, per_ip=2)
    for _ in range(3):
        bad_token_call(REMOTE_ADDR="203.0.113.7")
    assert api_client.get("/api/site").status_code == 200


def test_unknown_invitation_keys_lock_the_address_out_even_for_a_valid_key(client, settings, db):
    set_limits(settings, per_ip=3)
    _, key = invitation_create(
        project=project_create(user=alice(), name="Shop"),
        email="carol@example.invalid",
        role=Role.VIEWER,
        invited_by=alice(),
        base_url="http://testserver",
    )
    guesses = [
        client.get(reverse("invitation_accept", args=[f"guess-{n}"])).status_code for n in range(3)
    ]
    assert guesses == [404] * 3

    response = client.get(reverse("invitation_accept", args=[key]))

    assert_locked_out(response)
    assert "Join Shop" not in response.content.decode()


def test_a_valid_invitation_link_is_not_counted_as_a_failure(client, settings, db):
    set_limits(settings, per_ip=1)
    _, key = invitation_create(
        project=project_create(user=alice(), name="Shop"),
        email="carol@example.invalid",
        role=Role.VIEWER,
        invited_by=alice(),
        base_url="http://testserver",
    )
    for _ in range(3):
        assert client.get(reverse("invitation_accept", args=[key])).status_code == 200


def test_the_admin_login_is_the_login_page_and_its_limit(client, admin_user, settings):
    set_limits(settings, per_user=3)
    admin_login = client.get(reverse("admin:login"), {"next": "/admin/"})
    login_url = admin_login["Location"]
    assert login_url.startswith(reverse("login"))
    for _ in range(3):
        client.post(login_url, {"login": "admin", "password": "wrong"})

    response = client.post(login_url, {"login": "admin", "password": "password"})

    assert_locked_out(response)
    assert SESSION_KEY not in client.session


# --- one counter per address for all of them ----------------------------------------


def test_failures_anywhere_count_against_the_address_everywhere(client, settings, user):
    set_limits(settings, per_ip=4)
    bad_token_call()
    client.get(reverse("invitation_accept", args=["guess"]))
    client.post(reverse("login"), {"login": "nobody", "password": "x"})
    client.post(reverse("login"), {"login": "someone", "password": "y"})

    assert_locked_out(client.post(reverse("login"), RIGHT))
    assert_locked_out(client.get(reverse("invitation_accept", args=["another"])))
    assert bad_token_call().status_code == 429


# --- IPv6 by /64 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("not an address", "not an address"),
    ],
)
def test_an_address_is_counted_by_its_ipv6_64_or_as_itself(address, key):
    assert address_key(address) == key


def test_rotating_addresses_inside_one_ipv6_64_does_not_reset_the_count(client, settings, user):
    set_limits(settings, per_ip=3)
    for n in range(1, 4):
        client.post(
            reverse("login"), {"login": f"user{n}", "password": "x"}, REMOTE_ADDR=f"2001:db8::{n}"
        )

    assert_locked_out(client.post(reverse("login"), RIGHT, REMOTE_ADDR="2001:db8::ffff"))
    other_64 = client.post(reverse("login"), RIGHT, REMOTE_ADDR="2001:db8:0:1::1")
    assert other_64.status_code == 302


def test_api_throttles_count_an_ipv6_64_as_one_caller(anon_client, db, settings):
    settings.UPTIME_API_RATE_ANON = "2/min"
    answers = [
        anon_client.get("/api/site", REMOTE_ADDR=f"2001:db8::{n}").status_code for n in range(3)
    ]
    assert answers == [401, 401, 429]


def test_the_audit_log_still_records_the_full_address(
    client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("login"), WRONG, REMOTE_ADDR="2001:db8::1234")
    event = AuditEvent.objects.get(action="account.login_failed")
    assert event.address == "2001:db8::1234"


def test_client_address_is_full_and_client_key_grouped():
    request = RequestFactory().get("/", REMOTE_ADDR="2001:db8::1234")
    assert client_address(request) == "2001:db8::1234"
    assert client_key(request) == "2001:db8::/64"


# --- the slow-down per username across addresses -------------------------------------


def login_from(client, number: int, data=WRONG):
    return client.post(reverse("login"), data, REMOTE_ADDR=f"198.51.100.{number}")


def test_a_username_failing_from_many_addresses_is_slowed_down_with_growing_waits(
    client, user, settings
):
    set_limits(settings, per_user=3)  # slow-down after 2 x 3 failures from anywhere
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert [login_from(client, n).status_code for n in range(6)] == [200] * 6

        first = login_from(client, 50, RIGHT)
        assert first.status_code == 429
        assert first["Retry-After"] == "2"
        assert SESSION_KEY not in client.session

        clock.shift(timedelta(seconds=3))
        assert login_from(client, 51).status_code == 200
        assert login_from(client, 52)["Retry-After"] == "4"
        clock.shift(timedelta(seconds=5))
        assert login_from(client, 53).status_code == 200
        assert login_from(client, 54)["Retry-After"] == "8"


def test_the_slow_down_wait_stops_growing_at_five_minutes(client, user, settings):
    set_limits(settings, per_user=1)  # slow-down after 2 failures
    waits = []
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login_from(client, 0)
        login_from(client, 1)
        for n in range(10):
            refused = login_from(client, 100 + n)
            waits.append(int(refused["Retry-After"]))
            clock.shift(timedelta(seconds=waits[-1]))
            assert login_from(client, 2 + n).status_code == 200

    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, SLOWDOWN_MAX_SECONDS, SLOWDOWN_MAX_SECONDS]


def test_the_slow_down_ends_when_the_failures_leave_the_window(client, user, settings):
    set_limits(settings, per_user=2)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for n in range(4):
            login_from(client, n)
        assert login_from(client, 60, RIGHT).status_code == 429
        clock.shift(timedelta(minutes=15, seconds=1))
        assert login_from(client, 61, RIGHT).status_code == 302


def test_the_slow_down_of_one_username_leaves_others_alone(
    client, user, settings, django_user_model
):
    set_limits(settings, per_user=2)
    django_user_model.objects.create_user(username="bob", password="bobs-pass-9")
    for n in range(4):
        login_from(client, n)
    assert login_from(client, 70, {"login": "bob", "password": "bobs-pass-9"}).status_code == 302


# --- one count for every process ------------------------------------------------------

COUNT_SCRIPT = """
import json, sys
import django
django.setup()
from django.core.management import call_command
from django.test import RequestFactory
from accounts.limits import failure_counted, seconds_locked_out
call_command("createcachetable", verbosity=0)
request = RequestFactory().post("/login", REMOTE_ADDR="203.0.113.9")
failures = int(sys.argv[1])
for _ in range(failures):
    failure_counted(request)
print(json.dumps({"locked_for": seconds_locked_out(request)}))
"""


def run_counting_process(tmp_path: Path, failures: int) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("UPTIME_", "CACHE_URL", "DATABASE_URL", "DJANGO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="uptime.settings",
        UPTIME_ENV_FILE="",
        UPTIME_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        SECRET_KEY="tests-only-secret-key",
        UPTIME_LOGIN_FAILURES_PER_IP="3",
    )
    done = subprocess.run(
        [sys.executable, "-c", COUNT_SCRIPT, str(failures)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_processes_share_the_count_through_the_default_database_cache(tmp_path):
    assert run_counting_process(tmp_path, failures=2) == {"locked_for": 0}
    # A second process: one more failure fills the address's counter of 3.
    second = run_counting_process(tmp_path, failures=1)
    assert 14 * 60 < second["locked_for"] <= 15 * 60


def test_the_settings_take_allauths_limits_from_the_policy_module():
    from uptime import settings as uptime_settings

    assert uptime_settings.ACCOUNT_RATE_LIMITS == account_rate_limits(
        failures_per_user=uptime_settings.UPTIME_LOGIN_FAILURES_PER_USER,
        failures_per_ip=uptime_settings.UPTIME_LOGIN_FAILURES_PER_IP,
        window_minutes=uptime_settings.UPTIME_LOGIN_WINDOW_MINUTES,
    )
    assert uptime_settings.ACCOUNT_RATE_LIMITS["login_failed"] == "20/15m/ip,5/15m/key"


def test_the_shared_cache_table_exists_even_when_migrating_with_another_cache(db):
    """The suite runs with a memory cache; the processes it starts use the table."""
    from django.conf import settings as django_settings
    from django.db import connection

    assert django_settings.UPTIME_CACHE_TABLE in connection.introspection.table_names()
