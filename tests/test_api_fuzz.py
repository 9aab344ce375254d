"""The API fuzzed from its own OpenAPI schema: bad input is a 4xx, never a 500.

Schemathesis generates requests, valid and invalid, for each operation in
/api/schema and sends them to the WSGI app in-process; no answer may be a
server error, each must match the schema, and no stored site may be invalid.

Nothing may leave the machine. ping, check and check-all probe the URL they
are given or have stored, so they are not fuzzed (tests/monitor covers their
bad input by hand). Adding a site resolves its host for the private-address
guard; here DNS answers every name "no such name" without being asked, and
any other name lookup or any connection to a non-loopback address fails the
test.
"""

import ipaddress
import socket

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from monitor.net import resolve
from sites.models import Site
from uptime.wsgi import application

# Operations that make outbound requests to the URL they are given or have stored.
PROBING_OPERATIONS = ["ping", "check", "check_all"]
FUZZED_OPERATIONS = [
    "GET /api/site/",
    "POST /api/site/",
    "GET /api/site/{site_id}/",
    "PATCH /api/site/{site_id}/",
    "DELETE /api/site/{site_id}/",
    "GET /api/status/",
]
# Examples per operation: the whole file runs in about 20 s.
MAX_EXAMPLES = 150
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The site that generated requests for /api/site/{site_id} are pointed at, so
# they reach an existing row as well as random ids.
FUZZ_SITE_ID = 424242


def _is_local_host(host) -> bool:
    """True for an IP literal or localhost: names answered without DNS."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class OutsideNetwork:
    """What reached for the network beyond this machine, and whether DNS is stood in for."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.dns_answers_locally = False


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
def auth_headers(transactional_db, token):
    # transactional_db: the WSGI handler closes the database connection after
    # each request, which would break the `db` fixture's wrapping transaction.
    return {"Authorization": f"Token {token.key}"}


@pytest.fixture
def api_schema(fuzz_settings, auth_headers):
    return schemathesis.openapi.from_wsgi("/api/schema", application, headers=auth_headers)


def reset_fuzz_site() -> None:
    """Put back the site fuzzed requests aim at, as a DELETE or PATCH may have left it."""
    Site.objects.update_or_create(
        pk=FUZZ_SITE_ID,
        defaults={
            "url": "https://fuzz-target.invalid/",
            "name": "fuzz target",
            "interval": 60,
            "timeout": 10,
            "enabled": True,
        },
    )


def case_strategy(operation) -> st.SearchStrategy:
    """Valid and invalid requests; those with a site id also aimed at an existing site."""
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if "{site_id}" in operation.path:
        existing = {"site_id": FUZZ_SITE_ID}
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=existing))
        if operation.method.upper() == "PATCH":
            strategies.append(
                operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=existing)
            )
    return st.one_of(strategies)


def test_every_operation_but_the_probing_ones_is_fuzzed(api_schema):
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    probing = api_schema.include(operation_id=PROBING_OPERATIONS).get_all_operations()
    probing_labels = {result.ok().label for result in probing}
    assert len(probing_labels) == len(PROBING_OPERATIONS)
    assert labels - probing_labels == set(FUZZED_OPERATIONS)


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
        reset_fuzz_site()
        case.call_and_validate(headers=auth_headers, checks=CHECKS)

    check()
    # Whatever was accepted must be a valid site: no garbage stored.
    for site in Site.objects.all():
        site.full_clean()


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
