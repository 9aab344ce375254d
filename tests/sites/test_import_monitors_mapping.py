"""What a Kuma database or a Gatus configuration maps to, before anything is written.

Pure: files made in tmp_path are read into Candidates; no database.
"""

import sqlite3
import textwrap

import pytest

from sites.importers import UnreadableFile, gatus, kuma, read_monitors
from tests.sites.kuma_db import kuma_db


def read_kuma(tmp_path, *rows):
    return kuma.read(kuma_db(tmp_path, *rows))


def read_gatus(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text))
    return gatus.read(path)


# --- Uptime Kuma -----------------------------------------------------------------


def test_a_kuma_http_monitor_keeps_its_request_statuses_and_schedule(tmp_path):
    [monitor] = read_kuma(
        tmp_path,
        {
            "name": "API",
            "type": "http",
            "url": "https://api.example.invalid/health",
            "interval": 60,
            "retry_interval": 30,
            "maxretries": 2,
            "timeout": 12,
            "method": "POST",
            "body": '{"ping": 1}',
            "headers": '{"X-Token": "abc", "X-Count": 3}',
            "accepted_statuscodes_json": '["200-299", "404"]',
            "maxredirects": 0,
            "ignore_tls": 1,
        },
    )

    assert (monitor.name, monitor.kind, monitor.problem) == ("API", "http", "")
    assert monitor.options == {
        "url": "https://api.example.invalid/health",
        "method": "POST",
        "body": '{"ping": 1}',
        "headers": {"X-Token": "abc", "X-Count": "3", "Content-Type": "application/json"},
        "expectedStatus": "200-299,404",
        "followRedirects": False,
        "ignoreTls": True,
    }
    assert monitor.settings == {
        "interval": 60,
        "enabled": True,
        "timeout": 12,
        "failure_threshold": 3,
        "retry_interval": 30,
    }
    assert monitor.notes == []


def test_a_kuma_body_keeps_the_content_type_of_its_encoding_unless_a_header_sets_one(tmp_path):
    form, xml = read_kuma(
        tmp_path,
        {
            "type": "http",
            "url": "https://a.invalid/",
            "method": "POST",
            "body": "a=1",
            "http_body_encoding": "form",
        },
        {
            "type": "http",
            "url": "https://b.invalid/",
            "method": "POST",
            "body": "<a/>",
            "http_body_encoding": "xml",
            "headers": '{"content-type": "application/soap+xml"}',
        },
    )

    assert form.options["headers"] == {"Content-Type": "application/x-www-form-urlencoded"}
    assert xml.options["headers"] == {"content-type": "application/soap+xml"}


def test_kuma_basic_auth_becomes_basic_auth_and_other_methods_are_not_imported(tmp_path):
    basic, ntlm = read_kuma(
        tmp_path,
        {
            "type": "http",
            "url": "https://a.invalid/",
            "auth_method": "basic",
            "basic_auth_user": "ops",
            "basic_auth_pass": "s3cret",
        },
        {
            "type": "http",
            "url": "https://b.invalid/",
            "auth_method": "ntlm",
            "basic_auth_user": "ops",
            "basic_auth_pass": "s3cret",
        },
    )

    assert basic.options["authType"] == "basic"
    assert (basic.options["authUsername"], basic.options["authPassword"]) == ("ops", "s3cret")
    assert ntlm.problem == "ntlm authentication has no equivalent"


def test_a_kuma_keyword_monitor_becomes_http_with_a_keyword_inverted_as_absent(tmp_path):
    present, absent = read_kuma(
        tmp_path,
        {"type": "keyword", "url": "https://a.invalid/", "keyword": "Welcome"},
        {"type": "keyword", "url": "https://b.invalid/", "keyword": "Error", "invert_keyword": 1},
    )

    assert (present.kind, present.options["keyword"]) == ("http", "Welcome")
    assert "keywordAbsent" not in present.options
    assert (absent.options["keyword"], absent.options["keywordAbsent"]) == ("Error", True)


@pytest.mark.parametrize(
    ("expression", "path"),
    [
        ("status", "$.status"),
        ("$.status", "$.status"),
        ("data.items[0].state", "$.data.items[0].state"),
    ],
)
def test_a_kuma_json_query_that_is_a_plain_path_maps_to_a_json_assertion(
    tmp_path, expression, path
):
    [monitor] = read_kuma(
        tmp_path,
        {
            "type": "json-query",
            "url": "https://a.invalid/",
            "json_path": expression,
            "expected_value": "ok",
            "json_path_operator": "==",
        },
    )

    assert (monitor.kind, monitor.problem) == ("http", "")
    assert (monitor.options["jsonPath"], monitor.options["jsonExpected"]) == (path, "ok")


def test_a_kuma_json_query_with_jsonata_functions_or_another_operator_is_not_imported(tmp_path):
    function, operator, minus = read_kuma(
        tmp_path,
        {
            "type": "json-query",
            "url": "https://a.invalid/",
            "json_path": "$count(items) > 2",
            "expected_value": "true",
        },
        {
            "type": "json-query",
            "url": "https://b.invalid/",
            "json_path": "load",
            "expected_value": "5",
            "json_path_operator": "<",
        },
        {
            "type": "json-query",
            "url": "https://c.invalid/",
            "json_path": "total-used",
            "expected_value": "3",
        },
    )

    assert "'$count(items) > 2' is more than a path" in function.problem
    assert 'compares with "<"' in operator.problem
    assert "'total-used' is more than a path" in minus.problem  # JSONata: a subtraction


def test_a_kuma_port_monitor_becomes_tcp_and_paused_when_inactive(tmp_path):
    [monitor] = read_kuma(
        tmp_path,
        {"type": "port", "hostname": "db.invalid", "port": 5432, "interval": 30, "active": 0},
    )

    assert (monitor.kind, monitor.options) == ("tcp", {"host": "db.invalid", "port": 5432})
    assert monitor.settings["enabled"] is False
    assert monitor.settings["timeout"] == 24  # Kuma's default: 80 % of the interval
    assert monitor.settings["retry_interval"] == 30  # Kuma's 0: the interval


def test_a_kuma_dns_monitor_keeps_its_record_type_and_an_ip_resolver_with_its_port(tmp_path):
    plain, port, named = read_kuma(
        tmp_path,
        {
            "type": "dns",
            "hostname": "example.invalid",
            "dns_resolve_type": "MX",
            "dns_resolve_server": "1.1.1.1",
            "port": 53,
        },
        {
            "type": "dns",
            "hostname": "example.invalid",
            "dns_resolve_type": "A",
            "dns_resolve_server": "127.0.0.1",
            "port": 5353,
        },
        {
            "type": "dns",
            "hostname": "example.invalid",
            "dns_resolve_type": "AAAA",
            "dns_resolve_server": "resolver.invalid",
            "port": 53,
        },
    )

    assert plain.kind == "dns"
    assert plain.options == {"host": "example.invalid", "recordType": "MX", "resolver": "1.1.1.1"}
    assert port.options["resolver"] == "127.0.0.1:5353"
    assert "resolver" not in named.options
    assert named.notes == [
        "the resolver resolver.invalid is a name, not an address: the system resolver is used"
    ]


def test_a_kuma_push_monitor_becomes_a_heartbeat_whose_grace_is_the_retries(tmp_path):
    [monitor] = read_kuma(
        tmp_path,
        {
            "type": "push",
            "push_token": "abc",
            "interval": 3600,
            "maxretries": 2,
            "retry_interval": 300,
        },
    )

    assert (monitor.kind, monitor.options) == ("heartbeat", {"period": 3600, "grace": 600})
    assert monitor.settings == {"interval": 3600, "enabled": True, "failure_threshold": 1}
    assert "new ping URL" in monitor.notes[0]


def test_kuma_types_without_an_equivalent_and_upside_down_mode_are_not_imported(tmp_path):
    ping, group, upside_down = read_kuma(
        tmp_path,
        {"name": "Router", "type": "ping", "hostname": "router.invalid"},
        {"name": "Servers", "type": "group"},
        {"name": "Down on purpose", "type": "http", "url": "https://a.invalid/", "upside_down": 1},
    )

    assert ping.problem == 'Kuma monitors of type "ping" have no equivalent in Uptime'
    assert group.problem == "a Kuma group holds monitors; it checks nothing itself"
    assert "upside-down mode" in upside_down.problem


def test_kuma_limits_outside_uptimes_are_moved_inside_with_a_note(tmp_path):
    [monitor] = read_kuma(
        tmp_path,
        {
            "type": "port",
            "hostname": "db.invalid",
            "port": 5432,
            "interval": 200_000,
            "timeout": 90,
            "maxretries": 20,
            "retry_interval": 300_000,
        },
    )

    assert monitor.settings["interval"] == 86_400
    assert monitor.settings["timeout"] == 60
    assert monitor.settings["failure_threshold"] == 10
    assert monitor.settings["retry_interval"] == 86_400
    assert "interval 200000s lowered to 86400s (Uptime's limit)" in monitor.notes


def test_an_older_kuma_database_without_the_later_columns_is_read(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE monitor (id INTEGER PRIMARY KEY, name VARCHAR(150), active BOOLEAN, "
            "interval INTEGER, url TEXT, type VARCHAR(20), hostname VARCHAR(255), port INTEGER, "
            "maxretries INTEGER, basic_auth_user TEXT, basic_auth_pass TEXT)"
        )
        connection.execute(
            "INSERT INTO monitor VALUES (1, 'Old', 1, 60, 'https://a.invalid/', 'http', NULL, "
            "NULL, 1, 'ops', 'pw')"
        )
    connection.close()

    [monitor] = kuma.read(path)

    assert monitor.options["expectedStatus"] == "200-299"
    assert monitor.options["authType"] == "basic"  # before auth_method, a user meant basic
    assert monitor.settings["failure_threshold"] == 2


# --- Gatus -----------------------------------------------------------------------


def test_gatus_conditions_map_to_status_keyword_json_and_response_time(tmp_path):
    [monitor] = read_gatus(
        tmp_path,
        """
        endpoints:
          - name: api
            url: "https://api.example.invalid/health"
            interval: 5m
            method: POST
            headers:
              Content-Type: application/json
            body: '{"q": 1}'
            conditions:
              - "[STATUS] == 200"
              - "[BODY] == pat(*healthy*)"
              - "[BODY].status == UP"
              - "[RESPONSE_TIME] < 500"
            alerts:
              - type: slack
                failure-threshold: 4
                success-threshold: 3
        """,
    )

    assert (monitor.kind, monitor.problem) == ("http", "")
    assert monitor.options == {
        "url": "https://api.example.invalid/health",
        "method": "POST",
        "headers": {"Content-Type": "application/json"},
        "body": '{"q": 1}',
        "expectedStatus": "200",
        "keyword": "healthy",
        "jsonPath": "$.status",
        "jsonExpected": "UP",
        "maxResponseMs": 499,
    }
    assert monitor.settings == {
        "interval": 300,
        "enabled": True,
        "timeout": 10,
        "failure_threshold": 4,
        "success_threshold": 3,
    }
    assert monitor.notes == [
        "[RESPONSE_TIME] < 500: slower than 499 ms is degraded here, not down as in Gatus"
    ]


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (["[STATUS] < 300"], "100-299"),
        (["[STATUS] >= 200", "[STATUS] < 300"], "200-299"),
        (["[STATUS] == any(200, 201, 204)"], "200-201,204"),
        (["[STATUS] == pat(2*)"], "200-299"),
        (["[STATUS] <= 399", "[STATUS] != 304"], "100-303,305-399"),
    ],
)
def test_gatus_status_conditions_become_expected_status_ranges(tmp_path, conditions, expected):
    lines = "\n".join(f'      - "{condition}"' for condition in conditions)
    [monitor] = read_gatus(
        tmp_path,
        f'endpoints:\n  - name: a\n    url: "https://a.invalid/"\n    conditions:\n{lines}\n',
    )

    assert monitor.options["expectedStatus"] == expected


def test_gatus_conditions_without_an_equivalent_are_reported_and_the_rest_imported(tmp_path):
    [monitor] = read_gatus(
        tmp_path,
        """
        endpoints:
          - name: api
            url: "https://a.invalid/"
            conditions:
              - "[STATUS] == 200"
              - "len([BODY].items) > 0"
              - "[BODY] == OK"
              - "[DOMAIN_EXPIRATION] > 720h"
            maintenance-windows: []
        """,
    )

    assert monitor.problem == ""
    assert monitor.notes == [
        "maintenance-windows not mapped",
        "condition not mapped: len([BODY].items) > 0",
        "condition not mapped: [BODY] == OK",
        "condition not mapped: [DOMAIN_EXPIRATION] > 720h",
    ]


def test_a_gatus_endpoint_without_a_status_condition_says_what_uptime_expects(tmp_path):
    [monitor] = read_gatus(tmp_path, 'endpoints:\n  - name: a\n    url: "https://a.invalid/"\n')

    assert monitor.options == {"url": "https://a.invalid/"}
    assert monitor.notes == ["no [STATUS] condition: Gatus accepts any status, Uptime 200-399"]


def test_a_gatus_body_absent_pattern_becomes_keyword_absent(tmp_path):
    [monitor] = read_gatus(
        tmp_path,
        'endpoints:\n  - name: a\n    url: "https://a.invalid/"\n'
        '    conditions: ["[STATUS] == 200", "[BODY] != pat(*error*)"]\n',
    )

    assert (monitor.options["keyword"], monitor.options["keywordAbsent"]) == ("error", True)


def test_a_gatus_certificate_condition_adds_a_tls_monitor_of_the_host(tmp_path):
    site, certificate = read_gatus(
        tmp_path,
        """
        endpoints:
          - name: shop
            url: "https://shop.example.invalid:8443/"
            interval: 1h
            conditions:
              - "[STATUS] == 200"
              - "[CERTIFICATE_EXPIRATION] > 48h"
        """,
    )

    assert site.kind == "http"
    assert "certExpiryDays" not in site.options
    assert (certificate.name, certificate.kind) == ("shop (certificate)", "tls")
    assert certificate.options == {
        "host": "shop.example.invalid",
        "port": 8443,
        "certExpiryDays": 2,
    }
    assert certificate.settings["interval"] == 3600
    assert "degraded (with an alert) here, not down as in Gatus" in site.notes[0]


def test_gatus_tcp_tls_and_dns_endpoints_map_to_their_kinds(tmp_path):
    tcp, tls, dns, named = read_gatus(
        tmp_path,
        """
        endpoints:
          - name: db
            url: "tcp://db.invalid:5432"
            interval: 30s
            conditions: ["[CONNECTED] == true"]
          - name: mail
            url: "tls://mail.invalid:465"
            conditions: ["[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 720h"]
          - name: dns
            url: "127.0.0.1:5353"
            dns: {query-name: "example.invalid", query-type: "A"}
            conditions: ["[BODY] == 192.0.2.1", "[DNS_RCODE] == NOERROR"]
          - name: dns by name
            url: "dns://resolver.invalid"
            dns: {query-name: "example.invalid", query-type: "mx"}
        """,
    )

    assert (tcp.kind, tcp.options, tcp.notes) == ("tcp", {"host": "db.invalid", "port": 5432}, [])
    assert tcp.settings["interval"] == 30
    assert (tls.kind, tls.options) == (
        "tls",
        {"host": "mail.invalid", "port": 465, "certExpiryDays": 30},
    )
    assert dns.kind == "dns"
    assert dns.options == {
        "host": "example.invalid",
        "recordType": "A",
        "resolver": "127.0.0.1:5353",
        "expected": ["192.0.2.1"],
    }
    assert dns.notes == []
    assert named.options == {"host": "example.invalid", "recordType": "MX"}
    assert "resolver.invalid is a name" in named.notes[0]


def test_gatus_endpoints_of_other_protocols_or_bad_durations_are_not_imported(tmp_path):
    icmp, ssh, duration = read_gatus(
        tmp_path,
        """
        endpoints:
          - name: router
            url: "icmp://192.0.2.1"
          - name: bastion
            url: "ssh://bastion.invalid:22"
          - name: slow
            url: "https://a.invalid/"
            interval: soon
        """,
    )

    assert icmp.problem == "Gatus icmp endpoints (icmp://192.0.2.1) have no equivalent"
    assert ssh.problem.startswith("Gatus ssh endpoints")
    assert duration.problem == "'soon' is not a duration (like 30s, 5m or 1h)"


def test_a_disabled_gatus_endpoint_is_paused_and_its_client_settings_apply(tmp_path):
    [monitor] = read_gatus(
        tmp_path,
        """
        endpoints:
          - name: a
            url: "https://a.invalid/"
            enabled: false
            interval: 1m
            client: {insecure: true, ignore-redirect: true, timeout: 90s, network: tcp4}
            conditions: ["[STATUS] == 200"]
            alerts: [{type: slack}]
        """,
    )

    assert monitor.settings == {
        "interval": 60,
        "enabled": False,
        "timeout": 60,
        "failure_threshold": 3,  # Gatus's defaults for an alert
        "success_threshold": 2,
    }
    assert (monitor.options["ignoreTls"], monitor.options["followRedirects"]) == (True, False)
    assert monitor.notes == [
        "timeout 90s lowered to 60s (Uptime's limit)",
        "client.network not mapped",
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("500ms", 0.5), ("2d", 172_800)],
)
def test_gatus_durations(text, seconds):
    assert gatus.duration(text, None) == seconds


# --- the file itself -------------------------------------------------------------


def test_the_format_is_guessed_from_the_file(tmp_path):
    database = kuma_db(tmp_path, {"type": "port", "hostname": "db.invalid", "port": 5432})
    config = tmp_path / "config.yaml"
    config.write_text('endpoints:\n  - name: a\n    url: "tcp://db.invalid:5432"\n')

    assert read_monitors(database)[0] == "kuma"
    assert read_monitors(config)[0] == "gatus"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"just words", "no `endpoints:` list: not a Gatus configuration"),
        (b"endpoints: {a: 1}", "no `endpoints:` list"),
        (b"a: [unclosed", "not a readable YAML file"),
        (b"\xff\xfe\x00binary", "not a readable YAML file"),
    ],
)
def test_a_file_that_is_neither_says_so(tmp_path, content, message):
    path = tmp_path / "monitors"
    path.write_bytes(content)

    with pytest.raises(UnreadableFile, match=message.replace("[", r"\[")):
        read_monitors(path)


def test_an_sqlite_file_without_kumas_monitor_table_says_so(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE things (id INTEGER)")
    connection.close()

    with pytest.raises(UnreadableFile, match="no readable Uptime Kuma monitor table"):
        read_monitors(path)


def test_the_kuma_file_is_opened_read_only(tmp_path):
    path = kuma_db(tmp_path, {"type": "port", "hostname": "db.invalid", "port": 5432})
    path.chmod(0o444)
    before = path.read_bytes()

    read_monitors(path)

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kuma.db"]  # no journal left
