"""Finding 8: sessions end after an idle spell and after a fixed time; cookies hide from scripts."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import time_machine
from django.conf import settings
from django.utils import timezone

ROOT = Path(__file__).resolve().parents[2]


def signed_in(client, user):
    response = client.post("/login", {"login": "alice", "password": "s3cret-pass"})
    assert response.status_code == 302
    return client


def is_signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_the_csrf_cookie_cannot_be_read_by_scripts(client, user):
    response = client.get("/login")
    assert response.cookies["csrftoken"]["httponly"] is True


def test_the_session_cookie_lasts_the_idle_timeout(client, user):
    response = client.post("/login", {"login": "alice", "password": "s3cret-pass"})
    assert response.cookies["sessionid"]["max-age"] == 120 * 60


def test_a_session_ends_after_two_hours_without_a_request(client, user):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        signed_in(client, user)
        clock.move_to(start + timedelta(minutes=119))
        assert is_signed_in(client)
        clock.move_to(start + timedelta(minutes=119 + 121))
        assert not is_signed_in(client)


def test_each_request_pushes_the_idle_timeout_forward(client, user):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        signed_in(client, user)
        for step in range(1, 5):
            clock.move_to(start + timedelta(minutes=100 * step))
            assert is_signed_in(client)


def test_a_busy_session_still_ends_after_the_maximum_lifetime(client, user):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        signed_in(client, user)
        minutes = 0
        while minutes < 72 * 60 - 100:
            minutes += 100
            clock.move_to(start + timedelta(minutes=minutes))
            assert is_signed_in(client), f"signed out after {minutes} minutes"
        clock.move_to(start + timedelta(hours=72, minutes=1))
        assert not is_signed_in(client)


def test_signing_in_again_starts_a_new_maximum_lifetime(client, user):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        signed_in(client, user)
        client.post("/logout")
        clock.move_to(start + timedelta(hours=71, minutes=30))
        signed_in(client, user)
        clock.move_to(start + timedelta(hours=72, minutes=30))
        assert is_signed_in(client)


def production_settings(**env: str) -> str:
    """Settings printed by a fresh process (cookie names are fixed at import)."""
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "uptime.settings",
        "UPTIME_ENV_FILE": "",
        "SECRET_KEY": "x" * 60,
        "UPTIME_DATA_DIR": str(settings.DATA_DIR),
        **env,
    }
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_PATH, s.CSRF_COOKIE_PATH, "
        "s.SESSION_COOKIE_DOMAIN, s.CSRF_COOKIE_DOMAIN)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_under_https_the_cookies_carry_the_host_prefix_and_its_conditions():
    assert production_settings(UPTIME_HTTPS="1") == [
        "__Host-sessionid",
        "__Host-csrftoken",
        "True",
        "True",
        "/",
        "/",
        "None",
        "None",
    ]


def test_over_plain_http_the_cookies_keep_their_usual_names():
    assert production_settings(UPTIME_HTTPS="0")[:2] == ["sessionid", "csrftoken"]
