"""Finding 2: "ping" and "check now" have their own rate and caps on probes at once.

A gated server on 127.0.0.1 holds probes in flight until the test lets them
answer, so "two probes running" is a fact, not a timing.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from monitor.models import ProbeSlot
from sites.services import site_create
from teams.services import personal_project_ensure
from teams.tokens import token_create
from tests.factories import alice_project


class GatedServer:
    """Answers 200 once `release()` is called; counts requests that arrived."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.arrived = threading.Semaphore(0)
        gated = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gated.arrived.release()
                gated.gate.wait(20)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int) -> None:
        for _ in range(count):
            assert self.arrived.acquire(timeout=10), "a probe never reached the server"

    def release(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gated():
    server = GatedServer()
    yield server
    server.close()


@pytest.fixture
def caps(settings):
    settings.UPTIME_PROBES_PER_USER = 2
    settings.UPTIME_PROBES_GLOBAL = 3
    settings.UPTIME_PROBES_PER_PROCESS = 10
    return settings


def client_for(user) -> APIClient:
    _, key = token_create(user=user, name="probe tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def bob():
    bob = get_user_model().objects.create_user("bob", password="bob-pass-phrase-42")
    personal_project_ensure(user=bob)
    return bob


def ping(client: APIClient, url: str):
    return client.get(f"/api/ping/{url}")


def in_flight(pool, gated, calls) -> list:
    """Start the calls, and return once each has reached the gated server."""
    futures = [pool.submit(call) for call in calls]
    gated.wait_for(len(calls))
    return futures


def test_pings_over_the_probe_rate_are_answered_429_with_retry_after(
    api_client, settings, httpserver
):
    settings.UPTIME_PROBE_RATE = "2/min"
    cache.clear()  # other tests' pings by alice (same id) count in the same cache
    httpserver.expect_request("/").respond_with_data("ok")
    answers = [ping(api_client, httpserver.url_for("/")) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2]["Retry-After"]) > 0


@pytest.mark.django_db(transaction=True)
def test_a_third_ping_at_once_by_one_user_is_refused_at_once(caps, gated):
    alice = client_for(get_user_model().objects.create_user("alice", password="pass-phrase-42"))
    with ThreadPoolExecutor(2) as pool:
        running = in_flight(pool, gated, [lambda: ping(alice, gated.url)] * 2)
        refused = ping(alice, gated.url)
        assert refused.status_code == 429
        assert "UPTIME_PROBES_PER_USER" in refused.json()["detail"]
        assert 1 <= int(refused["Retry-After"]) <= 10
        gated.release()
        assert [f.result().status_code for f in running] == [200, 200]
    assert not ProbeSlot.objects.exists()
    assert ping(alice, gated.url).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_global_cap_counts_every_users_probes(caps, gated):
    alice = client_for(get_user_model().objects.create_user("alice", password="pass-phrase-42"))
    bob_client = client_for(bob())
    with ThreadPoolExecutor(3) as pool:
        running = in_flight(
            pool,
            gated,
            [lambda: ping(alice, gated.url)] * 2 + [lambda: ping(bob_client, gated.url)],
        )
        refused = ping(bob_client, gated.url)
        assert refused.status_code == 429
        assert "UPTIME_PROBES_GLOBAL" in refused.json()["detail"]
        gated.release()
        assert [f.result().status_code for f in running] == [200, 200, 200]


@pytest.mark.django_db(transaction=True)
def test_one_process_runs_no_more_probes_than_its_own_cap(caps, gated):
    caps.UPTIME_PROBES_PER_PROCESS = 1
    alice = client_for(get_user_model().objects.create_user("alice", password="pass-phrase-42"))
    bob_client = client_for(bob())
    with ThreadPoolExecutor(1) as pool:
        running = in_flight(pool, gated, [lambda: ping(alice, gated.url)])
        refused = ping(bob_client, gated.url)
        assert refused.status_code == 429
        gated.release()
        assert running[0].result().status_code == 200


@pytest.mark.django_db(transaction=True)
def test_check_now_shares_the_users_probe_cap(caps, gated):
    caps.UPTIME_PROBES_PER_USER = 1
    alice_user = get_user_model().objects.create_user("alice", password="pass-phrase-42")
    alice = client_for(alice_user)
    site = site_create(project=alice_project(), url=gated.url, timeout=10)
    with ThreadPoolExecutor(1) as pool:
        running = in_flight(pool, gated, [lambda: alice.post(f"/api/check/{site.pk}")])
        refused = ping(alice, gated.url)
        assert refused.status_code == 429
        gated.release()
        assert running[0].result().status_code == 200


def test_a_slot_left_by_a_killed_process_stops_counting_once_expired(api_client, user, caps):
    from datetime import timedelta

    from django.utils import timezone

    past = timezone.now() - timedelta(minutes=5)
    for _ in range(3):
        ProbeSlot.objects.create(user=user, started_at=past, ends_by=past, expires_at=past)
    response = ping(api_client, "http://probe-target.invalid/")
    assert response.status_code == 200


def test_a_live_slot_makes_the_answer_429_with_the_time_until_it_ends(api_client, user, caps):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    for _ in range(2):
        ProbeSlot.objects.create(
            user=user,
            started_at=now,
            ends_by=now + timedelta(seconds=7),
            expires_at=now + timedelta(seconds=37),
        )
    response = ping(api_client, "http://probe-target.invalid/")
    assert response.status_code == 429
    assert 6 <= int(response["Retry-After"]) <= 7
