"""The API fuzzed from its own OpenAPI schema: bad input is a 4xx, never a 500.

Schemathesis generates requests, valid and invalid, for each operation in
/api/schema and sends them to the WSGI app in-process; no answer may be a
server error, each must match the schema, and no stored site may be invalid.

Nothing may leave the machine. Adding a site or pinging a URL resolves its
host for the private-address guard; here DNS answers every name "no such
name" without being asked, and any other name lookup or any connection to a
non-loopback address from Python fails the test.

ping, check and check-all also probe, through libcurl, which resolves and
connects in C where those Python hooks cannot see. So libcurl is given a
stand-in resolver too (DNS over HTTPS to a loopback listener that counts the
lookups and answers none), and the guard libcurl's socket hook consults runs
with private targets off and refuses, instead of connecting to, the public
addresses it would let through.
"""

import ipaddress
import os
import socket
import threading
from datetime import timedelta

import pycurl
import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import monitor.probe
from monitor.models import MaintenanceWindow
from monitor.net import AddressNotAllowed, check_address, resolve
from monitor.probe import ErrorKind, Target, probe
from notifications.models import Channel
from sites.models import Site
from statuspages.models import StatusIncident, StatusPage
from teams.models import ApiToken, Invitation, Membership, Project, Role
from teams.tokens import digest_of
from tests.factories import alice, alice_project
from uptime.wsgi import application

FUZZED_OPERATIONS = [
    "GET /api/ping/{url}",
    "POST /api/check/{site_id}/",
    "POST /api/check-all/",
    "GET /api/site/",
    "POST /api/site/",
    "GET /api/site/{site_id}/",
    "PATCH /api/site/{site_id}/",
    "DELETE /api/site/{site_id}/",
    "GET /api/status/",
    "GET /api/projects/",
    "POST /api/projects/",
    "GET /api/projects/{project_id}/",
    "PATCH /api/projects/{project_id}/",
    "DELETE /api/projects/{project_id}/",
    "GET /api/projects/{project_id}/members/",
    "POST /api/projects/{project_id}/members/",
    "PATCH /api/projects/{project_id}/members/{user_id}/",
    "DELETE /api/projects/{project_id}/members/{user_id}/",
    "GET /api/projects/{project_id}/invitations/",
    "DELETE /api/projects/{project_id}/invitations/{invitation_id}/",
    "GET /api/projects/{project_id}/audit/",
    "GET /api/tokens/",
    "POST /api/tokens/",
    "DELETE /api/tokens/{token_id}/",
    "GET /api/projects/{project_id}/maintenance/",
    "POST /api/projects/{project_id}/maintenance/",
    "GET /api/maintenance/{window_id}/",
    "PATCH /api/maintenance/{window_id}/",
    "DELETE /api/maintenance/{window_id}/",
    "GET /api/channels/",
    "POST /api/channels/",
    "GET /api/channels/{channel_id}/",
    "PATCH /api/channels/{channel_id}/",
    "DELETE /api/channels/{channel_id}/",
    "GET /api/channel-kinds/",
    "POST /api/site/{site_id}/ack/",
    "GET /api/site/{site_id}/incidents/",
    "POST /api/site/{site_id}/incidents/{transition_id}/notes/",
    "GET /api/status-pages/",
    "POST /api/status-pages/",
    "GET /api/status-pages/{page_id}/",
    "PATCH /api/status-pages/{page_id}/",
    "DELETE /api/status-pages/{page_id}/",
    "PUT /api/status-pages/{page_id}/logo/",
    "DELETE /api/status-pages/{page_id}/logo/",
    "GET /api/status-pages/{page_id}/incidents/",
    "POST /api/status-pages/{page_id}/incidents/",
    "PATCH /api/status-pages/{page_id}/incidents/{incident_id}/",
    "DELETE /api/status-pages/{page_id}/incidents/{incident_id}/",
    "POST /api/status-pages/{page_id}/incidents/{incident_id}/updates/",
]
# Operations left out, and why.
UNFUZZED_OPERATIONS = {
    # It sends through monitor.curl, whose name lookups this file has no
    # stand-in for (only the probe's): a generated URL could become real DNS.
    # tests/notifications/test_channels_api.py tests it against a local stand-in.
    "POST /api/channels/{channel_id}/test/",
}
# Examples per operation (derandomized, so the same ones every run). Each
# costs about 60 ms, most of it putting the fuzzed objects back, so 50 keep
# the file near 3 minutes per database; UPTIME_FUZZ_EXAMPLES=500 digs deeper.
MAX_EXAMPLES = int(os.environ.get("UPTIME_FUZZ_EXAMPLES", "50"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The site that generated requests for /api/site/{site_id} are pointed at, so
# they reach an existing row as well as random ids.
FUZZ_SITE_ID = 424242
# Likewise a project of alice's with another member and an invitation, and a
# token of hers that is not the one the requests are sent with.
FUZZ_IDS = {
    "site_id": FUZZ_SITE_ID,
    "project_id": 424243,
    "user_id": 424244,
    "invitation_id": 424245,
    "token_id": 424246,
    "window_id": 424247,
    "channel_id": 424248,
    "page_id": 424249,
    "incident_id": 424250,
}


_REAL_GETADDRINFO = socket.getaddrinfo


def _is_local_host(host) -> bool:
    """True for an IP literal or localhost: names answered without DNS."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    # Parsed as the C library parses it: "fe80::1%nosuchif" is no literal to
    # it, so it may go on to ask DNS.
    try:
        _REAL_GETADDRINFO(host, None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return False
    return True


class OutsideNetwork:
    """What reached for the network beyond this machine, and whether DNS is stood in for."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.dns_answers_locally = False
        # Public addresses libcurl's socket hook was asked about and refused.
        self.probe_connections_refused: list[str] = []
        # Names libcurl looked up through the stand-in resolver (accepted connections).
        self.probe_lookups = 0


@pytest.fixture
def no_outside_network(monkeypatch):
    """Fail on any DNS query or connection that would leave the machine.

    A lookup that needs DNS fails the test unless it comes through the
    sites' address check (fuzz_settings), where it is answered "no such
    name", as DNS answers a made-up name. Attempts are also recorded and
    checked at teardown, in case the AssertionError raised here is caught
    and turned into a 4xx.
    """
    network = OutsideNetwork()
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        # AI_NUMERICHOST only parses the host as an address; it never asks DNS.
        if not flags & socket.AI_NUMERICHOST and not _is_local_host(host):
            if network.dns_answers_locally:
                if isinstance(host, str):
                    host.encode("idna")  # raises UnicodeError where the real call does
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            network.attempts.append(f"DNS query for {host!r}")
            raise AssertionError(f"the fuzz tried a DNS query for {host!r}")
        return real_getaddrinfo(host, port, family, type, proto, flags)

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            if not ipaddress.ip_address(str(address[0]).split("%", 1)[0]).is_loopback:
                network.attempts.append(f"connection to {address!r}")
                raise AssertionError(f"the fuzz tried to connect to {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield network
    assert network.attempts == []


@pytest.fixture
def fuzz_settings(settings, monkeypatch, no_outside_network):
    """The private-address guard on, and the sites' address check kept off DNS."""
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False

    def resolve_locally(host: str, port: int) -> list[tuple]:
        """monitor.net.resolve, with DNS answering "no such name" for every name."""
        no_outside_network.dns_answers_locally = True
        try:
            return resolve(host, port)
        finally:
            no_outside_network.dns_answers_locally = False

    monkeypatch.setattr("sites.targets.resolve", resolve_locally)
    return settings


@pytest.fixture
def probe_offline(fuzz_settings, monkeypatch, no_outside_network):
    """libcurl resolves through a stand-in and connects to no address beyond loopback.

    libcurl does its own DNS, in C: a made-up name would become a real
    query. With CURLOPT_DOH_URL every name goes to DNS over HTTPS at a
    loopback listener instead, which counts the lookup and closes: the name
    does not resolve, as DNS answers a made-up name. (IP literals and
    localhost are answered by libcurl without any lookup.) Every address
    libcurl would connect to meets the guard first: private ones get its
    real refusal, public ones a refusal here, recorded.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.05)
    stop = threading.Event()

    def answer_no_name():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            no_outside_network.probe_lookups += 1
            conn.close()

    thread = threading.Thread(target=answer_no_name, daemon=True)
    thread.start()
    doh_url = f"https://127.0.0.1:{listener.getsockname()[1]}/dns-query"
    real_init = monitor.probe._Transfer.__init__

    def init(transfer):
        real_init(transfer)
        transfer.curl.setopt(pycurl.DOH_URL, doh_url)

    def refuse_outside(ip: str, **kwargs) -> None:
        check_address(ip)  # the guard's own refusal of loopback and private addresses
        no_outside_network.probe_connections_refused.append(ip)
        # Outside this machine: the fuzz connects to nothing.
        raise AddressNotAllowed(ip, "outside this machine")

    monkeypatch.setattr(monitor.probe._Transfer, "__init__", init)
    monkeypatch.setattr(monitor.probe, "check_address", refuse_outside)
    yield no_outside_network
    stop.set()
    thread.join(timeout=2)
    listener.close()


@pytest.fixture
def auth_headers(transactional_db, token):
    # transactional_db: the WSGI handler closes the database connection after
    # each request, which would break the `db` fixture's wrapping transaction.
    return {"Authorization": f"Token {token}"}


@pytest.fixture
def api_schema(fuzz_settings, probe_offline, auth_headers):
    return schemathesis.openapi.from_wsgi("/api/schema", application, headers=auth_headers)


def reset_fuzz_objects(key: str) -> None:
    """Put back what fuzzed requests aim at, as a DELETE or PATCH may have left it.

    alice's own token too: a random id may name it, and a DELETE revokes it.
    """
    reset_fuzz_site()
    user = alice()
    ApiToken.objects.update_or_create(
        digest=digest_of(key), defaults={"user": user, "name": "tests", "prefix": key[:8]}
    )
    ApiToken.objects.update_or_create(
        pk=FUZZ_IDS["token_id"],
        defaults={"user": user, "name": "fuzz token", "prefix": "upt_fuzz", "digest": "f" * 64},
    )
    project, _ = Project.objects.update_or_create(
        pk=FUZZ_IDS["project_id"],
        defaults={"name": "fuzz project", "require_2fa": False, "personal_of": None},
    )
    member, _ = get_user_model().objects.update_or_create(
        pk=FUZZ_IDS["user_id"], defaults={"username": "fuzz-member", "email": "m@example.test"}
    )
    Membership.objects.filter(user=user).update(role=Role.OWNER)
    Membership.objects.update_or_create(user=user, project=project, defaults={"role": Role.OWNER})
    Membership.objects.update_or_create(
        user=member, project=project, defaults={"role": Role.EDITOR}
    )
    MaintenanceWindow.objects.update_or_create(
        pk=FUZZ_IDS["window_id"],
        defaults={
            "project": project,
            "title": "fuzz window",
            "starts_at": timezone.now(),
            "ends_at": timezone.now() + timedelta(hours=1),
            "rrule": "FREQ=WEEKLY",
            "timezone": "Europe/Berlin",
        },
    )
    Channel.objects.update_or_create(
        pk=FUZZ_IDS["channel_id"],
        defaults={
            "project": project,
            "kind": "slack",
            "name": "fuzz channel",
            "config": {},
            "secrets": {"url": "https://fuzz-target.example/hook"},
        },
    )
    reset_fuzz_status_page(project)
    Invitation.objects.update_or_create(
        pk=FUZZ_IDS["invitation_id"],
        defaults={
            "project": project,
            "email": "invited@example.test",
            "role": Role.VIEWER,
            "digest": "e" * 64,
            "expires_at": timezone.now() + timedelta(days=7),
            "accepted_at": None,
        },
    )


def reset_fuzz_status_page(project: Project) -> None:
    """A page of the fuzz project showing the fuzz site, with an incident."""
    page, _ = StatusPage.objects.update_or_create(
        pk=FUZZ_IDS["page_id"],
        defaults={"project": project, "slug": "fuzz-page", "title": "fuzz page"},
    )
    StatusIncident.objects.update_or_create(
        pk=FUZZ_IDS["incident_id"], defaults={"page": page, "title": "fuzz incident"}
    )


def reset_fuzz_site() -> None:
    """Put back the site fuzzed requests aim at, as a DELETE or PATCH may have left it."""
    Site.objects.update_or_create(
        pk=FUZZ_SITE_ID,
        defaults={
            # Not .invalid, which the probe refuses itself: this name reaches
            # libcurl's resolver (the stand-in).
            "url": "https://fuzz-target.example/",
            "name": "fuzz target",
            "interval": 60,
            "timeout": 10,
            "enabled": True,
            "project": alice_project(),
        },
    )


# The schema says only "a string" of ping's URL, so the generated ones are
# mostly names; these add what an attacker would try: every loopback and
# private spelling, public literals, odd schemes, ports and characters.
_HOSTS = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    st.sampled_from(
        [
            "localhost",
            "app.localhost",
            "2130706433",
            "0x7f.1",
            "0177.0.0.1",
            "127.1",
            "[::ffff:127.0.0.1]",
            "[fe80::1%25lo]",
            "[fe80::1%25nosuchif]",
            "169.254.169.254",
            "a.com",
            "fuzz.invalid",
            "xn--nxasmq6b.example",
            "\u4f8b\u3048.\u30c6\u30b9\u30c8",
            "user:pass@a.com",
        ]
    ),
    st.from_regex(r"\A[a-z0-9_-]{1,12}(\.[a-z0-9_-]{1,12}){0,3}\Z"),
    st.text(max_size=12),
)
PING_URLS = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["", "http://", "https://", "HTTPS://", "http:/", "//", "ftp://", "file://"]),
    _HOSTS,
    st.one_of(st.just(""), st.integers(0, 70_000).map(":{}".format), st.just(":x")),
    st.one_of(st.just(""), st.text(max_size=12).map("/{}".format)),
)


def case_strategy(operation) -> st.SearchStrategy:
    """Valid and invalid requests; those with ids also aimed at existing rows (FUZZ_IDS)."""
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if "{url}" in operation.path:
        strategies.append(
            PING_URLS.flatmap(
                lambda url: operation.as_strategy(
                    GenerationMode.POSITIVE, path_parameters={"url": url}
                )
            )
        )
    names = [name for name in FUZZ_IDS if f"{{{name}}}" in operation.path]
    if names:
        existing = {name: FUZZ_IDS[name] for name in names}
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=existing))
        if operation.method.upper() in ("PATCH", "POST"):
            strategies.append(
                operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=existing)
            )
    return st.one_of(strategies)


def test_every_operation_is_fuzzed(api_schema):
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert labels == set(FUZZED_OPERATIONS) | UNFUZZED_OPERATIONS


# Parametrized by hand rather than with schemathesis.pytest.from_fixture, whose
# lazy loader reads a node attribute (_nodeid) that pytest 9 no longer has.
@pytest.mark.parametrize("label", FUZZED_OPERATIONS)
def test_no_generated_request_is_answered_with_a_server_error(label, api_schema, auth_headers):
    operation = api_schema.find_operation_by_label(label)

    @given(case=case_strategy(operation))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,  # the same examples on every run, so CI is stable
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        reset_fuzz_objects(auth_headers["Authorization"].split()[1])
        case.call_and_validate(headers=auth_headers, checks=CHECKS)

    check()
    # Whatever was accepted must be valid: no garbage stored.
    for site in Site.objects.all():
        site.full_clean()
    for window in MaintenanceWindow.objects.all():
        window.full_clean()
    for page in StatusPage.objects.all():
        page.full_clean()


def test_the_probe_resolves_through_the_stand_in_and_connects_nowhere(probe_offline):
    result = probe(Target(url="https://fuzz-target.example/", timeout=2))
    assert result.error_kind == ErrorKind.DNS
    assert probe_offline.probe_lookups > 0  # libcurl asked the stand-in, not DNS
    result = probe(Target(url="http://93.184.216.34/", timeout=2))
    assert result.error_kind == ErrorKind.BLOCKED
    assert probe_offline.probe_connections_refused == ["93.184.216.34"]


def test_the_network_guard_fails_a_dns_query(no_outside_network):
    with pytest.raises(AssertionError, match="DNS query"):
        socket.getaddrinfo("example.com", 443)
    no_outside_network.attempts.clear()


# Regressions: 500s the fuzz (or fuzzing by hand around it) found.


@pytest.mark.parametrize(
    "url",
    [
        # socket.getaddrinfo() raised UnicodeError on these names: a 500.
        "https://a..b/",  # an empty label
        f"https://{'a' * 64}.example/",  # a label over 63 characters
        f"https://{'.'.join(['a' * 60] * 5)}/",  # a name over 253 characters
        # These were stored as sites that could never be checked.
        "+00:00",  # "https://+00:0/"
        "https://a!b/",
    ],
)
def test_a_host_name_dns_cannot_carry_is_refused_with_a_400(api_client, fuzz_settings, url):
    response = api_client.post("/api/site", {"url": url}, format="json")
    assert response.status_code == 400
    assert "not a valid host name" in response.json()["url"][0]
    assert not Site.objects.exists()


def test_port_0_is_refused_with_a_400(api_client, fuzz_settings):
    response = api_client.post("/api/site", {"url": "https://a.example:0/"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"url": ["Port 0 cannot be connected to."]}
    assert not Site.objects.exists()


@pytest.mark.parametrize("name", ["\x1a\xa6\x9c", "line one\nline two", "\x1b[31mred"])
def test_a_name_with_control_characters_is_refused_with_a_400(api_client, fuzz_settings, name):
    # The fuzz stored names like "\x1a\xa6\x9c": garbage on the dashboard.
    response = api_client.post(
        "/api/site", {"url": "https://a.example/", "name": name}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"name": ["The name contains control characters."]}
    assert not Site.objects.exists()


def test_a_body_nested_too_deeply_to_parse_is_refused_with_a_400(api_client):
    # json.loads raised RecursionError, which DRF's parser lets through: a 500.
    body = "[" * 100_000 + "]" * 100_000
    response = api_client.generic("POST", "/api/site", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_the_schema_states_the_interval_and_timeout_limits(api_client):
    # The schema said any integer, so valid-looking requests were refused.
    schemas = api_client.get("/api/schema").json()["components"]["schemas"]
    for name in ("SiteCreateInput", "PatchedSiteUpdateInput"):
        properties = schemas[name]["properties"]
        assert (properties["interval"]["minimum"], properties["interval"]["maximum"]) == (
            10,
            86_400,
        )
        assert (properties["timeout"]["minimum"], properties["timeout"]["maximum"]) == (1, 60)


def test_the_schema_says_site_input_takes_no_other_fields(api_client):
    # The schema allowed any extra key, which StrictInputSerializer refuses.
    schemas = api_client.get("/api/schema").json()["components"]["schemas"]
    for name in ("SiteCreateInput", "PatchedSiteUpdateInput"):
        assert schemas[name]["additionalProperties"] is False


def test_a_pinged_url_with_a_line_break_is_answered_like_any_other(api_client, probe_offline):
    # The route's ".*" stopped at a line break: Django's HTML 404 page, or
    # (before a final one) a probe of the URL without it. Like a space, the
    # line break is quoted back into the URL.
    response = api_client.get("/api/ping/http://a.invalid/%0Ax")
    assert response.status_code == 200
    assert response.json()["url"] == "http://a.invalid/%0Ax"
    response = api_client.get("/api/ping/%C3%88%0A%5B")  # what the fuzz sent
    assert response.status_code == 400
    assert response.json() == {"url": ["The URL is malformed: Invalid IPv6 URL."]}
