"""The monitoring API: ping, check, check-all and status, against servers on 127.0.0.1."""

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from monitor.models import Check
from monitor.serializers import StatusOutputSerializer
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project
from uptime.celery import app as celery_app

RESULT_KEYS = {"up", "url", "checkedAt", "statusCode", "responseTimeMs", "error"}
STATUS_KEYS = {
    "id",
    "url",
    "name",
    "up",
    "status",
    "checkedAt",
    "responseTimeMs",
    "statusCode",
    "error",
}


def ping(client, url: str):
    return client.get(f"/api/ping/{url}")


# --- ping ----------------------------------------------------------------------


def test_ping_of_a_local_server_answers_up_with_its_status(api_client, httpserver):
    httpserver.expect_request("/health").respond_with_data("ok")
    response = ping(api_client, httpserver.url_for("/health"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == RESULT_KEYS
    assert body["up"] is True and body["statusCode"] == 200 and body["error"] is None
    assert body["url"] == httpserver.url_for("/health")
    assert body["responseTimeMs"] >= 0


def test_ping_keeps_the_query_string_of_the_target(api_client, httpserver):
    # An unmatched request gets pytest-httpserver's 500, so "up" proves the query arrived.
    httpserver.expect_request("/health", query_string="deep=1&x=y").respond_with_data("ok")
    response = ping(api_client, httpserver.url_for("/health") + "?deep=1&x=y")
    assert response.json()["up"] is True
    assert response.json()["url"].endswith("/health?deep=1&x=y")


def test_ping_leaves_a_format_parameter_to_the_target(api_client, httpserver):
    # DRF would otherwise take "?format=xml" as a request for an XML answer.
    httpserver.expect_request("/feed", query_string="format=xml").respond_with_data("<x/>")
    response = ping(api_client, httpserver.url_for("/feed") + "?format=xml")
    assert response.status_code == 200
    assert response.json()["up"] is True


def test_ping_survives_a_proxy_that_merges_the_double_slash(api_client, httpserver):
    httpserver.expect_request("/health").respond_with_data("ok")
    merged = httpserver.url_for("/health").replace("http://", "http:/")
    response = ping(api_client, merged)
    assert response.json()["up"] is True
    assert response.json()["url"] == httpserver.url_for("/health")


def test_ping_quotes_a_decoded_space_in_the_path_again(api_client, httpserver):
    httpserver.expect_request("/a b").respond_with_data("ok")
    response = ping(api_client, httpserver.url_for("/a%20b"))
    assert response.json()["up"] is True
    assert response.json()["url"].endswith("/a%20b")


@pytest.mark.parametrize("code", [404, 500])
def test_ping_of_an_error_status_answers_down_with_the_code(api_client, httpserver, code):
    httpserver.expect_request("/").respond_with_data("nope", status=code)
    response = ping(api_client, httpserver.url_for("/"))
    assert response.status_code == 200
    body = response.json()
    assert body["up"] is False and body["statusCode"] == code
    assert body["error"]["kind"] == "http_status" and str(code) in body["error"]["message"]


def test_ping_of_a_refused_port_answers_down_with_connect(api_client, refused_url):
    body = ping(api_client, refused_url).json()
    assert body["up"] is False and body["statusCode"] is None
    assert body["error"]["kind"] == "connect"


def test_ping_of_an_unresolvable_name_answers_down_with_dns(api_client):
    body = ping(api_client, "http://nothing.invalid/").json()
    assert body["up"] is False and body["error"]["kind"] == "dns"


def test_ping_of_a_bare_host_probes_it_as_https(api_client, refused_url):
    port = urlsplit(refused_url).port
    body = ping(api_client, f"127.0.0.1:{port}").json()
    assert body["url"] == f"https://127.0.0.1:{port}/"
    assert body["error"]["kind"] == "connect"


def test_ping_stores_nothing(api_client, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    assert ping(api_client, httpserver.url_for("/")).json()["up"] is True
    assert not Site.objects.exists() and not Check.objects.exists()


@pytest.mark.parametrize(
    "url, reason",
    [
        ("ftp://127.0.0.1/", "only http and https"),
        ("invalid://scheme", "only http and https"),
        ("https://", "no host"),
        ("", "may not be blank"),
        ("http://127.0.0.1/" + "a" * 2000, "limit is 2000"),
    ],
)
def test_ping_of_a_bad_url_is_400_naming_the_url(api_client, url, reason):
    response = ping(api_client, url)
    assert response.status_code == 400
    assert reason in " ".join(response.json()["url"])


def test_ping_of_a_private_address_is_400_when_private_targets_are_off(
    api_client, httpserver, settings
):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    httpserver.expect_request("/").respond_with_data("ok")
    port = httpserver.port
    for url in (f"http://127.0.0.1:{port}/", f"http://localhost:{port}/", "http://[::1]:9/"):
        response = ping(api_client, url)
        assert response.status_code == 400, url
        assert "UPTIME_ALLOW_PRIVATE_TARGETS" in " ".join(response.json()["url"])
    assert len(httpserver.log) == 0


# --- check ---------------------------------------------------------------------


def test_check_probes_and_records_an_up_site(api_client, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    site = site_create(project=alice_project(), url=httpserver.url_for("/"))
    response = api_client.post(f"/api/check/{site.id}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == RESULT_KEYS | {"siteId"}
    assert body["up"] is True and body["siteId"] == site.id and body["url"] == site.url
    site.refresh_from_db()
    assert site.status == "up" and site.last_status_code == 200
    assert Check.objects.filter(site=site, up=True).count() == 1


def test_check_records_a_down_site_with_its_reason(api_client, httpserver):
    httpserver.expect_request("/").respond_with_data("broken", status=500)
    site = site_create(project=alice_project(), url=httpserver.url_for("/"))
    body = api_client.post(f"/api/check/{site.id}/").json()
    assert body["up"] is False and body["statusCode"] == 500
    assert body["error"]["kind"] == "http_status"
    site.refresh_from_db()
    assert site.status == "down" and site.last_error_kind == "http_status"


def test_check_probes_a_disabled_site_too(api_client, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    site = site_create(project=alice_project(), url=httpserver.url_for("/"), enabled=False)
    assert api_client.post(f"/api/check/{site.id}").json()["up"] is True
    assert Check.objects.filter(site=site).exists()


@pytest.mark.parametrize("site_id", ["0", "-1", "abc", "99999999999999999999999"])
def test_check_of_an_unknown_site_is_404(api_client, site_id):
    response = api_client.post(f"/api/check/{site_id}")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_check_answers_only_post(api_client, refused_url):
    site = site_create(project=alice_project(), url=refused_url)
    assert api_client.get(f"/api/check/{site.id}").status_code == 405
    assert not Check.objects.exists()


# --- check-all -----------------------------------------------------------------


def test_check_all_queues_every_enabled_site_and_eager_mode_checks_them(api_client, httpserver):
    httpserver.expect_request("/a").respond_with_data("ok")
    httpserver.expect_request("/b").respond_with_data("down", status=503)
    up = site_create(project=alice_project(), url=httpserver.url_for("/a"))
    down = site_create(project=alice_project(), url=httpserver.url_for("/b"))
    disabled = site_create(project=alice_project(), url=httpserver.url_for("/c"), enabled=False)

    response = api_client.post("/api/check-all")
    assert response.status_code == 202
    assert response.json() == {"queued": 2}
    statuses = dict(Site.objects.values_list("id", "status"))
    assert statuses == {up.id: "up", down.id: "down", disabled.id: "unknown"}
    assert not Check.objects.filter(site=disabled).exists()


def test_check_all_with_no_sites_queues_nothing(api_client):
    response = api_client.post("/api/check-all/")
    assert response.status_code == 202 and response.json() == {"queued": 0}


def _forget_broker_connections() -> None:
    # Celery caches its connection and producer pools; without this, a pool
    # made for one broker URL would outlive the test that set it.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture(params=["redis", "filesystem"])
def unreachable_broker(request, refused_url, tmp_path):
    """Point Celery, not in eager mode, at a broker that cannot be reached."""
    if request.param == "redis":
        port = urlsplit(refused_url).port
        broker = {"broker_url": f"redis://127.0.0.1:{port}/0"}
    else:
        missing = str(tmp_path / "no-such-folder")
        broker = {
            "broker_url": "filesystem://",
            "broker_transport_options": {"data_folder_in": missing, "data_folder_out": missing},
        }
    changes = {**broker, "task_always_eager": False}
    saved = {key: celery_app.conf[key] for key in changes}
    celery_app.conf.update(changes)
    _forget_broker_connections()
    yield
    celery_app.conf.update(saved)
    _forget_broker_connections()


def test_check_all_answers_503_when_the_broker_cannot_be_reached(
    api_client, refused_url, unreachable_broker
):
    site_create(project=alice_project(), url=refused_url)
    response = api_client.post("/api/check-all")
    assert response.status_code == 503
    assert "CELERY_BROKER_URL" in response.json()["detail"]
    assert not Check.objects.exists()


# --- status --------------------------------------------------------------------


def test_status_answers_one_entry_per_site_unknown_before_any_check(api_client, refused_url):
    site = site_create(project=alice_project(), url=refused_url, name="nothing here")
    response = api_client.get("/api/status")
    assert response.status_code == 200
    [entry] = response.json()["sites"]
    assert set(entry) == STATUS_KEYS
    assert entry["id"] == site.id and entry["name"] == "nothing here"
    assert entry["up"] is None and entry["status"] == "unknown" and entry["checkedAt"] is None


def test_status_shows_the_latest_check_of_each_site(api_client, httpserver, refused_url):
    httpserver.expect_request("/").respond_with_data("ok")
    up = site_create(project=alice_project(), url=httpserver.url_for("/"))
    down = site_create(project=alice_project(), url=refused_url)
    api_client.post("/api/check-all")

    entries = {e["id"]: e for e in api_client.get("/api/status/").json()["sites"]}
    assert len(entries) == 2
    assert entries[up.id]["up"] is True and entries[up.id]["statusCode"] == 200
    assert entries[up.id]["error"] is None and entries[up.id]["checkedAt"] is not None
    assert entries[down.id]["up"] is False and entries[down.id]["status"] == "down"
    assert entries[down.id]["error"]["kind"] == "connect"
    assert entries[down.id]["checkedAt"] is not None


def _status_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/status").status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_status_reads_the_site_rows_in_one_query_without_scanning_checks(api_client, refused_url):
    site = site_create(project=alice_project(), url=refused_url)
    api_client.post(f"/api/check/{site.id}")
    with_one_site = _status_queries(api_client)
    for port in (8001, 8002, 8003):
        site_create(project=alice_project(), url=f"http://127.0.0.1:{port}/")
    with_four_sites = _status_queries(api_client)

    # The other query is the token lookup.
    site_queries = [sql for sql in with_four_sites if "sites_site" in sql]
    assert len(site_queries) == 1
    assert len(with_four_sites) == len(with_one_site)
    assert not any("monitor_check" in sql for sql in with_four_sites)


# --- the seed's flow -----------------------------------------------------------


def test_the_seed_flow_add_list_get_check_status_delete(api_client, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    created = api_client.post("/api/site", {"url": httpserver.url_for("/")}, format="json")
    assert created.status_code == 201
    site_id = created.json()["id"]

    assert [s["id"] for s in api_client.get("/api/site").json()["sites"]] == [site_id]
    assert api_client.get(f"/api/site/{site_id}").json()["status"] == "unknown"

    assert api_client.post(f"/api/check/{site_id}").json()["up"] is True
    shown = api_client.get(f"/api/site/{site_id}").json()
    assert shown["up"] is True and shown["checkedAt"] is not None
    [entry] = api_client.get("/api/status").json()["sites"]
    assert entry["id"] == site_id and entry["up"] is True

    assert api_client.delete(f"/api/site/{site_id}").status_code == 204
    assert api_client.get("/api/site").json() == {"sites": []}
    assert api_client.get("/api/status").json() == {"sites": []}


def _site_in_state(url: str, **state) -> Site:
    site = site_create(project=alice_project(), url=url, name=state.pop("name", ""))
    Site.objects.filter(pk=site.pk).update(**state)
    return site


@pytest.mark.parametrize("time_zone", ["UTC", "Europe/Berlin"])
def test_status_answers_exactly_what_the_site_status_serializer_would(
    api_client, settings, time_zone
):
    # The view builds its dicts directly for speed; the serializer stays the reference.
    settings.TIME_ZONE = time_zone
    checked = timezone.now().replace(microsecond=0) - timedelta(minutes=2)
    _site_in_state("http://127.0.0.1:8001/", name="never checked")
    _site_in_state(
        "http://127.0.0.1:8002/",
        status="up",
        last_checked_at=checked,
        last_status_code=200,
        last_response_ms=42,
    )
    _site_in_state(
        "http://127.0.0.1:8003/",
        name="Broken",
        status="down",
        last_checked_at=checked + timedelta(microseconds=120_000),
        last_error_kind="connect",
        last_error_message="Connection refused by 127.0.0.1:8003",
    )
    _site_in_state(
        "http://127.0.0.1:8004/",
        status="down",
        last_checked_at=checked + timedelta(microseconds=1),
        last_status_code=503,
        last_response_ms=7,
        last_error_kind="http_status",
        last_error_message="HTTP 503",
    )

    reference = StatusOutputSerializer({"sites": Site.objects.order_by("id")}).data
    expected = json.loads(JSONRenderer().render(reference))
    assert api_client.get("/api/status").json() == expected
    assert len(expected["sites"]) == 4


def test_status_needs_credentials(anon_client):
    assert anon_client.get("/api/status").status_code == 401
