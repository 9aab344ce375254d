"""manage.py import_monitors, end to end: files made in the test, monitors read back.

Targets are 127.0.0.1 or .invalid names; nothing is probed.
"""

import textwrap
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sites.models import Site
from sites.services import site_create
from teams.models import Project
from tests.factories import alice_project
from tests.sites.kuma_db import kuma_db

PORT = {
    "name": "Database",
    "type": "port",
    "hostname": "127.0.0.1",
    "port": 5432,
    "interval": 60,
    "maxretries": 2,
    "retry_interval": 20,
}


def run(*args) -> str:
    out = StringIO()
    call_command("import_monitors", *map(str, args), stdout=out, stderr=StringIO())
    return out.getvalue()


def gatus_file(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def project(db):
    return alice_project()


def test_a_kuma_port_monitor_is_imported_as_tcp_with_its_thresholds(tmp_path, project):
    out = run(kuma_db(tmp_path, PORT, {**PORT, "name": "Cache", "port": 6379, "active": 0}))

    database, cache = Site.objects.order_by("id")
    assert (database.project, database.kind, database.url) == (
        project,
        "tcp",
        "tcp://127.0.0.1:5432",
    )
    assert database.options == {"host": "127.0.0.1", "port": 5432}
    assert (database.name, database.interval, database.failure_threshold) == ("Database", 60, 3)
    assert (database.retry_interval, database.timeout, database.enabled) == (20, 48, True)
    assert cache.enabled is False
    assert "Database (tcp 127.0.0.1:5432): imported" in out
    assert out.rstrip().endswith("Imported 2, skipped 0, not imported 0 (0 with notes).")


def test_a_plain_gatus_http_endpoint_and_a_tcp_one_are_imported(tmp_path, project):
    path = gatus_file(
        tmp_path,
        """
        endpoints:
          - name: home
            url: "http://127.0.0.1:8080/"
            interval: 2m
            alerts: [{type: slack, failure-threshold: 5, success-threshold: 2}]
          - name: db
            url: "tcp://127.0.0.1:5432"
            conditions: ["[CONNECTED] == true"]
        """,
    )

    out = run(path)

    home = Site.objects.get(kind="http")
    assert (home.url, home.interval, home.timeout) == ("http://127.0.0.1:8080/", 120, 10)
    assert (home.failure_threshold, home.success_threshold) == (5, 2)
    assert Site.objects.get(kind="tcp").url == "tcp://127.0.0.1:5432"
    assert "note: no [STATUS] condition: Gatus accepts any status, Uptime 200-399" in out
    assert "Imported 2, skipped 0, not imported 0 (1 with notes)." in out


def test_a_dry_run_reports_the_same_and_writes_nothing(tmp_path, project):
    path = kuma_db(tmp_path, PORT, {**PORT, "name": "Again"}, {"name": "Router", "type": "ping"})

    out = run(path, "--dry-run")

    assert not Site.objects.exists()
    assert "Database (tcp 127.0.0.1:5432): would be imported" in out
    # The second monitor of the same target is a duplicate even in a dry run.
    assert "Again (tcp 127.0.0.1:5432): skipped: already monitored in this project" in out
    assert 'Router: not imported: Kuma monitors of type "ping" have no equivalent' in out
    assert out.rstrip().endswith(
        "Would import 1, skipped 1, not imported 1 (0 with notes). Dry run: nothing was written."
    )


def test_a_target_already_monitored_is_skipped_and_the_rest_imported(tmp_path, project):
    site_create(project=project, kind="tcp", options={"host": "127.0.0.1", "port": 5432})

    out = run(kuma_db(tmp_path, PORT, {**PORT, "name": "Other", "port": 5433}))

    assert "Database (tcp 127.0.0.1:5432): skipped: already monitored in this project" in out
    assert Site.objects.filter(name="Other").exists()
    assert Site.objects.count() == 2


def test_a_monitor_refused_by_validation_is_reported_with_the_field_and_the_rest_imported(
    tmp_path, project
):
    out = run(kuma_db(tmp_path, {**PORT, "name": "Bad port", "port": 70000}, PORT))

    assert "Bad port: not imported: port: 70000 is not a port: use 1 to 65535." in out
    assert Site.objects.get().name == "Database"
    assert "Imported 1, skipped 0, not imported 1" in out


def test_monitors_without_an_equivalent_are_reported_and_the_command_succeeds(tmp_path, project):
    out = run(
        kuma_db(tmp_path, {"name": "Servers", "type": "group"}, {"name": "Box", "type": "docker"})
    )

    assert "Servers: not imported: a Kuma group holds monitors; it checks nothing itself" in out
    assert 'Box: not imported: Kuma monitors of type "docker" have no equivalent in Uptime' in out
    assert not Site.objects.exists()


def test_the_project_is_chosen_by_id_or_by_name(tmp_path, project):
    other = Project.objects.create(name="Infrastructure")
    path = kuma_db(tmp_path, PORT)

    run(path, "--project", "Infrastructure")
    run(path, "--project", project.pk)

    assert Site.objects.filter(project=other).count() == 1
    assert Site.objects.filter(project=project).count() == 1


def test_an_unknown_project_name_is_refused(tmp_path, project):
    with pytest.raises(CommandError, match="No project is named 'Nope'"):
        run(kuma_db(tmp_path, PORT), "--project", "Nope")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.db", None, "no such file"),
        ("notes.txt", b"hello", "no `endpoints:` list: not a Gatus configuration"),
        ("broken.yaml", b"endpoints: [", "not a readable YAML file"),
    ],
)
def test_a_file_that_cannot_be_read_is_a_clear_error(tmp_path, project, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(CommandError) as error:
        run(path)

    assert str(error.value).startswith(f"Cannot import {path}: {message}")
    assert error.value.returncode == 1
    assert not Site.objects.exists()


def test_a_file_given_the_wrong_format_is_a_clear_error(tmp_path, project):
    path = gatus_file(tmp_path, 'endpoints:\n  - name: a\n    url: "tcp://127.0.0.1:1"\n')

    with pytest.raises(CommandError, match="cannot open it as SQLite|no readable Uptime Kuma"):
        run(path, "--format", "kuma")


# --- every kind's options ----------------------------------------------------
# (heartbeat's validation arrives with its own branch: the mark goes once main has it)


def test_a_kuma_http_monitor_keeps_its_request_and_accepted_statuses(tmp_path, project):
    row = {
        "name": "API",
        "type": "http",
        "url": "http://127.0.0.1:8080/health",
        "method": "POST",
        "body": '{"a": 1}',
        "accepted_statuscodes_json": '["200-299", "404"]',
        "maxredirects": 0,
        "auth_method": "basic",
        "basic_auth_user": "ops",
        "basic_auth_pass": "s3cret",
        "interval": 60,
    }

    run(kuma_db(tmp_path, row))

    site = Site.objects.get()
    assert site.options["method"] == "POST"
    assert site.options["headers"] == {"Content-Type": "application/json"}
    assert site.options["expectedStatus"] == "200-299,404"
    assert site.options["followRedirects"] is False
    assert site.options["authUsername"] == "ops"
    assert "authPassword" not in site.options
    assert site.secrets == {"authPassword": "s3cret"}


def test_a_kuma_keyword_and_json_query_monitor_are_imported(tmp_path, project):
    run(
        kuma_db(
            tmp_path,
            {
                "name": "Shop",
                "type": "keyword",
                "url": "http://127.0.0.1:8080/",
                "keyword": "Sold out",
                "invert_keyword": 1,
            },
            {
                "name": "Health",
                "type": "json-query",
                "url": "http://127.0.0.1:8080/health",
                "json_path": "status",
                "expected_value": "ok",
                "json_path_operator": "==",
            },
        )
    )

    shop, health = Site.objects.order_by("id")
    assert (shop.options["keyword"], shop.options["keywordAbsent"]) == ("Sold out", True)
    assert (health.options["jsonPath"], health.options["jsonExpected"]) == ("$.status", "ok")


def test_a_kuma_dns_monitor_is_imported(tmp_path, project):
    run(
        kuma_db(
            tmp_path,
            {
                "name": "MX",
                "type": "dns",
                "hostname": "example.invalid",
                "dns_resolve_type": "MX",
                "dns_resolve_server": "127.0.0.1",
                "port": 5353,
            },
        )
    )

    site = Site.objects.get()
    assert site.kind == "dns"
    assert (site.options["host"], site.options["recordType"]) == ("example.invalid", "MX")
    assert site.options["resolver"] == "127.0.0.1:5353"


def test_a_kuma_push_monitor_is_imported_as_a_heartbeat(tmp_path, project):
    run(
        kuma_db(
            tmp_path,
            {
                "name": "Backup",
                "type": "push",
                "push_token": "abc",
                "interval": 86400,
                "maxretries": 1,
                "retry_interval": 3600,
            },
        )
    )

    site = Site.objects.get()
    assert (site.kind, site.url, site.failure_threshold) == ("heartbeat", "", 1)
    assert (site.options["period"], site.options["grace"]) == (86400, 3600)
    assert site.next_check_at is None


def test_gatus_conditions_and_a_certificate_monitor_are_imported(tmp_path, project):
    path = gatus_file(
        tmp_path,
        """
        endpoints:
          - name: api
            url: "https://127.0.0.1:8443/health"
            conditions:
              - "[STATUS] == any(200, 204)"
              - "[BODY].status == UP"
              - "[RESPONSE_TIME] <= 800"
              - "[CERTIFICATE_EXPIRATION] > 240h"
        """,
    )

    out = run(path)

    api = Site.objects.get(kind="http")
    assert api.options["expectedStatus"] == "200,204"
    assert (api.options["jsonPath"], api.options["jsonExpected"]) == ("$.status", "UP")
    assert api.options["maxResponseMs"] == 800
    certificate = Site.objects.get(kind="tls")
    assert (certificate.name, certificate.url) == ("api (certificate)", "tls://127.0.0.1:8443")
    assert certificate.options["certExpiryDays"] == 10
    assert "api (certificate) (tls 127.0.0.1:8443): imported" in out
