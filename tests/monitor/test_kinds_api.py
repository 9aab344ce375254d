"""Every monitor kind through the public API, checked against real local servers.

HTTP (pytest-httpserver), TLS (tests/tls_targets.py, a private CA trusted
through caBundle), TCP (a listening socket) and DNS (tests/dns_server.py) all
run on 127.0.0.1. Each monitor is added with POST /api/site, checked with
POST /api/check/<id>, and read back with GET /api/site/<id>.
"""

import socket

import pytest

from monitor.checking import check_sites
from monitor.models import Check
from tests.tls_targets import CertificateAuthority, TlsServer


def add(api_client, **fields) -> dict:
    response = api_client.post("/api/site", fields, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def check(api_client, site_id) -> dict:
    assert api_client.post(f"/api/check/{site_id}").status_code == 200
    return api_client.get(f"/api/site/{site_id}").json()


@pytest.fixture
def listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- http -----------------------------------------------------------------------------


def test_an_http_keyword_monitor_is_down_when_the_keyword_goes(api_client, httpserver):
    httpserver.expect_ordered_request("/").respond_with_data("<p>All good</p>")
    httpserver.expect_ordered_request("/").respond_with_data("<p>Maintenance</p>")
    site = add(api_client, url=httpserver.url_for("/"), keyword="All good")
    assert site["keyword"] == "All good"
    assert check(api_client, site["id"])["status"] == "up"
    down = check(api_client, site["id"])
    assert down["status"] == "down" and down["error"]["kind"] == "assertion"


def test_an_http_json_assertion_and_expected_status(api_client, httpserver):
    httpserver.expect_request("/health").respond_with_json({"status": "ok"}, status=418)
    site = add(
        api_client,
        url=httpserver.url_for("/health"),
        expectedStatus="418",
        jsonPath="$.status",
        jsonExpected="ok",
    )
    assert check(api_client, site["id"])["status"] == "up"


def test_an_http_monitor_slower_than_max_response_ms_is_degraded(api_client, httpserver):
    import time

    def slow(request):
        time.sleep(0.05)
        from werkzeug import Response

        return Response("ok")

    httpserver.expect_request("/").respond_with_handler(slow)
    site = add(api_client, url=httpserver.url_for("/"), maxResponseMs=1)
    shown = check(api_client, site["id"])
    assert shown["status"] == "degraded" and shown["error"]["kind"] == "slow"


def test_basic_auth_is_sent_and_the_password_never_shown_again(api_client, httpserver):
    httpserver.expect_request(
        "/", headers={"Authorization": "Basic dXB0aW1lOmh1bnRlcjI="}
    ).respond_with_data("ok")
    site = add(
        api_client,
        url=httpserver.url_for("/"),
        authType="basic",
        authUsername="uptime",
        authPassword="hunter2",
    )
    assert site["authPassword"] == "********"
    assert "hunter2" not in str(api_client.get("/api/site").json())
    assert check(api_client, site["id"])["status"] == "up"
    # Sent back as shown, the mask keeps the stored password.
    api_client.patch(f"/api/site/{site['id']}", {"authPassword": "********"}, format="json")
    assert check(api_client, site["id"])["status"] == "up"


# --- tcp --------------------------------------------------------------------------------


def test_a_tcp_monitor_is_up_while_the_port_accepts_and_down_when_refused(api_client, listener):
    site = add(api_client, kind="tcp", host="127.0.0.1", port=listener)
    assert site["url"] == f"tcp://127.0.0.1:{listener}"
    assert check(api_client, site["id"])["status"] == "up"

    refused = add(api_client, kind="tcp", host="127.0.0.1", port=closed_port())
    shown = check(api_client, refused["id"])
    assert shown["status"] == "down" and shown["error"]["kind"] == "connect"


# --- tls --------------------------------------------------------------------------------


def test_a_tls_monitor_is_degraded_when_the_certificate_expires_soon(api_client):
    ca = CertificateAuthority()
    leaf = ca.issue(days=5)
    with TlsServer(leaf, http=False) as server:
        site = add(
            api_client,
            kind="tls",
            host="127.0.0.1",
            port=server.port,
            certExpiryDays=14,
            caBundle=ca.pem,
        )
        shown = check(api_client, site["id"])
    assert shown["status"] == "degraded" and shown["error"]["kind"] == "cert_expiring"
    assert shown["certExpiresAt"][:10] == leaf.not_after.date().isoformat()


def test_a_tls_monitor_is_down_for_a_certificate_nobody_trusts(api_client):
    with TlsServer(CertificateAuthority().issue(days=90), http=False) as server:
        site = add(api_client, kind="tls", host="127.0.0.1", port=server.port)
        shown = check(api_client, site["id"])
    assert shown["status"] == "down" and shown["error"]["kind"] == "tls"


def test_an_https_monitor_trusting_a_private_ca_records_its_certificate_expiry(api_client):
    ca = CertificateAuthority()
    leaf = ca.issue(days=40)
    with TlsServer(leaf) as server:
        site = add(api_client, url=server.url, caBundle=ca.pem)
        shown = check(api_client, site["id"])
    assert shown["status"] == "up"
    assert shown["certExpiresAt"][:10] == leaf.not_after.date().isoformat()


# --- dns ------------------------------------------------------------------------------


def test_a_dns_monitor_compares_the_answer_with_the_expected_values(api_client, dns_server):
    dns_server.set("app.example.test", "A", "192.0.2.10")
    site = add(
        api_client,
        kind="dns",
        host="app.example.test",
        recordType="A",
        expected=["192.0.2.10"],
        resolver=dns_server.address,
    )
    assert check(api_client, site["id"])["status"] == "up"
    dns_server.set("app.example.test", "A", "192.0.2.99")
    shown = check(api_client, site["id"])
    assert shown["status"] == "down" and shown["error"]["kind"] == "dns_answer"


# --- one batch of every kind ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_batch_checks_every_kind_at_once(api_client, httpserver, dns_server, listener):
    httpserver.expect_request("/").respond_with_data("ok")
    dns_server.set("db.example.test", "A", "192.0.2.1")
    ids = [
        add(api_client, url=httpserver.url_for("/"))["id"],
        add(api_client, kind="tcp", host="127.0.0.1", port=listener)["id"],
        add(
            api_client,
            kind="dns",
            host="db.example.test",
            resolver=dns_server.address,
        )["id"],
    ]
    results = check_sites(ids)
    assert sorted(r.site_id for r in results) == sorted(ids)
    assert all(r.up for r in results)
    assert Check.objects.filter(site_id__in=ids, up=True).count() == 3


# --- bad input, per kind ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"kind": "tcp", "host": "127.0.0.1", "port": 0}, "port"),
        ({"kind": "tcp", "host": "127.0.0.1", "port": 70000}, "port"),
        ({"kind": "tls", "host": "127.0.0.1", "port": 0}, "port"),
        ({"url": "http://127.0.0.1:9/", "jsonPath": "$..[", "jsonExpected": "x"}, "jsonPath"),
        ({"url": "http://127.0.0.1:9/", "expectedStatus": "200-abc"}, "expectedStatus"),
        ({"kind": "dns", "host": "example.test", "recordType": "BOGUS"}, "recordType"),
        ({"kind": "heartbeat", "cron": "61 * * * *"}, "cron"),
        ({"kind": "gopher"}, "kind"),
        ({"kind": "tcp", "host": "127.0.0.1", "port": 80, "keyword": "x"}, "keyword"),
    ],
)
def test_bad_input_per_kind_is_400_naming_the_field(api_client, fields, named):
    response = api_client.post("/api/site", fields, format="json")
    assert response.status_code == 400, response.json()
    assert named in response.json(), response.json()
