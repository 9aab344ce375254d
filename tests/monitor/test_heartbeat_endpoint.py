"""The ping endpoint over HTTP: no login, no CSRF, no session; 404 for an unknown token; 429."""

import pytest
from django.core.cache import cache
from django.test import Client

from monitor.models import Check, Heartbeat
from sites.models import Site
from sites.services import site_create, site_update
from tests.factories import alice_project


@pytest.fixture(autouse=True)
def fresh_limits():
    """The ping limits count per address, and every test pings from 127.0.0.1."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client():
    # A browser's rules: a POST without a CSRF token would be refused.
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def site(db):
    return site_create(
        project=alice_project(), kind="heartbeat", options={"period": 3600, "grace": 300}
    )


def text(response) -> str:
    return response.content.decode()


def test_the_api_answers_a_ping_url_that_the_job_can_call(api_client, client):
    created = api_client.post("/api/site", {"kind": "heartbeat", "period": 60}, format="json")
    ping_path = created.json()["pingUrl"].removeprefix("http://127.0.0.1:8000")

    response = client.get(ping_path)

    assert (response.status_code, text(response)) == (200, "OK\n")
    assert api_client.get(f"/api/site/{created.json()['id']}").json()["status"] == "up"


@pytest.mark.parametrize("method", ["get", "post", "head"])
def test_a_ping_by_any_of_get_post_and_head_is_recorded(client, site, method):
    response = getattr(client, method)(f"/ping/{site.ping_token}")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response  # no session, no CSRF cookie
    assert Check.objects.get(site=site).up is True


def test_a_trailing_slash_is_forgiven(client, site):
    assert client.get(f"/ping/{site.ping_token}/").status_code == 200
    assert client.get(f"/ping/{site.ping_token}/start/").status_code == 200


def test_start_then_success_records_the_run(client, site):
    client.post(f"/ping/{site.ping_token}/start")
    assert Heartbeat.objects.get(site=site).started_at is not None

    client.post(f"/ping/{site.ping_token}")

    check = Check.objects.get(site=site)
    assert check.up is True and check.response_ms is not None


def test_fail_with_a_body_is_down_with_the_body_as_the_reason(client, site):
    body = "backup failed:\n\tdisk full \x1b[31m" + "x" * 400

    response = client.post(f"/ping/{site.ping_token}/fail", body, content_type="text/plain")

    assert response.status_code == 200
    site.refresh_from_db()
    assert site.status == "down"
    assert site.last_error_kind == "job_failed"
    assert site.last_error_message.startswith(
        "The job reported a failure: backup failed: disk full [31mxxx"
    )
    assert len(site.last_error_message) == 300


def test_fail_without_a_body_says_the_job_failed(client, site):
    client.get(f"/ping/{site.ping_token}/fail")

    site.refresh_from_db()
    assert (site.status, site.last_error_message) == ("down", "The job reported a failure")


def test_an_unknown_token_is_404(client, db):
    response = client.get("/ping/no-such-token")

    assert response.status_code == 404
    assert text(response).startswith("Not found")


def test_the_token_of_a_monitor_of_another_kind_is_404(client, db):
    http_site = site_create(project=alice_project(), url="http://127.0.0.1:9/")

    assert client.get(f"/ping/{http_site.ping_token}").status_code == 404
    assert not Check.objects.filter(site=http_site).exists()


def test_an_overlong_token_is_404_without_a_lookup(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/ping/" + "a" * 65)

    assert response.status_code == 404


def test_a_paused_monitor_answers_200_and_says_the_ping_was_ignored(client, site):
    site_update(site=site, enabled=False)

    response = client.get(f"/ping/{site.ping_token}")

    assert response.status_code == 200
    assert "paused" in text(response) and "ignored" in text(response)
    assert not Check.objects.filter(site=site).exists()
    assert Site.objects.get(id=site.id).status == "unknown"


def test_other_methods_are_refused(client, site):
    assert client.put(f"/ping/{site.ping_token}").status_code == 405


def test_pings_beyond_the_rate_per_ping_url_are_429(client, site, settings):
    settings.UPTIME_PING_RATE_TOKEN = "2/min"

    answers = [client.get(f"/ping/{site.ping_token}").status_code for _ in range(3)]

    assert answers == [200, 200, 429]
    assert Check.objects.filter(site=site).count() == 2
    response = client.get(f"/ping/{site.ping_token}")
    assert int(response["Retry-After"]) >= 1


def test_pings_beyond_the_rate_per_address_are_429_whatever_the_token(client, site, settings):
    settings.UPTIME_PING_RATE_ADDRESS = "3/min"

    answers = [client.get(f"/ping/guess-{n}").status_code for n in range(3)]
    answers.append(client.get(f"/ping/{site.ping_token}").status_code)

    assert answers == [404, 404, 404, 429]
    other_address = client.get(f"/ping/{site.ping_token}", REMOTE_ADDR="192.0.2.7")
    assert other_address.status_code == 200
