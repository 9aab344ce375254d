"""add_site for every kind, pause_site, resume_site and list_sites' kinds and states.

Bad input ends in a CommandError (a message and exit status 1), never a traceback.
"""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from monitor import kinds
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def tcp_site(port: int = 5432, **fields) -> Site:
    return site_create(
        project=alice_project(), kind="tcp", options={"host": "127.0.0.1", "port": port}, **fields
    )


# --- add_site ----------------------------------------------------------------


def test_add_site_adds_a_tcp_monitor_with_thresholds(db):
    alice_project()

    out = run(
        "add_site", "--kind", "tcp", "--host", "127.0.0.1", "--port", "5432",
        "--failure-threshold", "3", "--success-threshold", "2", "--retry-interval", "15",
    )  # fmt: skip

    site = Site.objects.get()
    assert (site.kind, site.url, site.options) == (
        "tcp",
        "tcp://127.0.0.1:5432",
        {"host": "127.0.0.1", "port": 5432},
    )
    assert (site.failure_threshold, site.success_threshold, site.retry_interval) == (3, 2, 15)
    assert out.strip() == f"Added site {site.id}: tcp://127.0.0.1:5432 (checked every 60s)."


def test_add_site_names_a_dependency_by_id_or_target(db):
    parent = tcp_site(22)

    run("add_site", "--kind", "tcp", "--host", "127.0.0.1", "--port", "80", "--depends-on",
        "tcp://127.0.0.1:22", "--project", str(parent.project_id))  # fmt: skip
    run("add_site", "http://127.0.0.1:8080/", "--depends-on", str(parent.pk))

    assert [s.depends_on for s in Site.objects.exclude(pk=parent.pk)] == [parent, parent]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "tcp", "--host", "127.0.0.1", "--port", "70000"], "port: 70000 is not a port"),
        (["--kind", "tcp", "--host", "127.0.0.1", "--port", "0"], "port: 0 is not a port"),
        (["--kind", "tcp", "--port", "22"], "host: A host name or IP address is required."),
        (["--kind", "tcp", "http://127.0.0.1/"], "A tcp monitor takes no URL"),
        (["--kind", "tcp", "--host", "127.0.0.1", "--port", "22", "--failure-threshold", "0"],
         "failure_threshold: Ensure this value is greater than or equal to 1."),
        (["http://127.0.0.1:8080/", "--header", "no colon"],
         '--header: Line 1: write a header as "Name: value".'),
        (["http://127.0.0.1:8080/", "--depends-on", "999"], "No site with id or URL '999'"),
    ],
)  # fmt: skip
def test_add_site_refuses_bad_input_with_the_field_named(db, args, message):
    alice_project()

    with pytest.raises(CommandError) as error:
        run("add_site", *args)

    assert message in str(error.value)
    assert error.value.returncode == 1
    assert not Site.objects.exists()


def test_add_site_refuses_an_unknown_kind(db):
    with pytest.raises(CommandError, match="invalid choice: 'ftp'"):
        run("add_site", "--kind", "ftp")


def test_an_option_of_another_kind_is_refused_by_name(db):
    alice_project()

    with pytest.raises(CommandError) as error:
        run(
            "add_site",
            "--kind",
            "tcp",
            "--host",
            "127.0.0.1",
            "--port",
            "22",
            "--record-type",
            "MX",
        )

    assert "recordType: This field does not apply to this kind of monitor." in str(error.value)


@pytest.mark.skipif(not kinds.get("heartbeat").OPTIONS, reason="heartbeat not on this branch")
def test_add_site_prints_a_heartbeats_ping_url(db):
    alice_project()

    out = run("add_site", "--kind", "heartbeat", "--period", "3600", "--grace", "300",
              "--name", "Backup")  # fmt: skip

    site = Site.objects.get()
    assert f"Ping URL: {site.ping_url}" in out


# --- pause_site and resume_site ---------------------------------------------------


def test_pause_site_then_resume_site_by_id(db):
    site = tcp_site(name="DB")

    assert run("pause_site", str(site.pk)).strip() == f"Paused site {site.pk} (DB)."
    site.refresh_from_db()
    assert site.paused

    before = timezone.now()
    assert run("resume_site", str(site.pk)).strip() == f"Resumed site {site.pk} (DB)."
    site.refresh_from_db()
    assert not site.paused
    assert site.next_check_at >= before


def test_pause_site_by_url_or_target(db):
    web = site_create(project=alice_project(), url="http://127.0.0.1:8080/")
    db_site = tcp_site()

    run("pause_site", "HTTP://127.0.0.1:8080")
    run("pause_site", "tcp://127.0.0.1:5432")

    assert [s.paused for s in Site.objects.filter(pk__in=[web.pk, db_site.pk])] == [True, True]


def test_pausing_a_paused_site_says_so_and_changes_nothing(db):
    site = tcp_site(enabled=False)

    assert "is already paused" in run("pause_site", str(site.pk))
    assert "is already running" in run("resume_site", str(tcp_site(22).pk))


@pytest.mark.parametrize("command", ["pause_site", "resume_site"])
@pytest.mark.parametrize("identifier", ["42", "tcp://127.0.0.1:1", "not a url"])
def test_pausing_or_resuming_an_unknown_site_is_an_error(db, command, identifier):
    tcp_site()

    with pytest.raises(CommandError, match="No site with id or URL") as error:
        run(command, identifier)

    assert error.value.returncode == 1


def test_resume_site_of_a_site_now_refused_says_why(db, settings):
    site = site_create(project=alice_project(), url="http://127.0.0.1:8080/", enabled=False)
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False

    with pytest.raises(CommandError, match="resolves to a non-public address"):
        run("resume_site", str(site.pk))

    site.refresh_from_db()
    assert site.paused


# --- list_sites -------------------------------------------------------------------


def test_list_sites_shows_kind_and_degraded_and_paused_states(db):
    degraded = tcp_site(name="Slow")
    Site.objects.filter(pk=degraded.pk).update(
        status=Site.Status.DEGRADED, last_error_kind="slow", last_error_message="Too slow"
    )
    paused = tcp_site(22, enabled=False)

    lines = run("list_sites").splitlines()

    assert lines[1].split()[:4] == [str(degraded.pk), "tcp", "degraded", "tcp://127.0.0.1:5432"]
    assert lines[1].endswith("Too slow")
    assert lines[2].split()[:3] == [str(paused.pk), "tcp", "paused"]


def test_list_sites_as_json_gives_kind_options_and_state(db):
    site = tcp_site(enabled=False, failure_threshold=3)

    [row] = json.loads(run("list_sites", "--json"))

    assert row["kind"] == "tcp"
    assert row["options"] == {"host": "127.0.0.1", "port": 5432}
    assert (row["state"], row["paused"], row["failure_threshold"]) == ("paused", True, 3)
    assert row["ping_url"] is None
    assert row["id"] == site.pk


@pytest.mark.skipif(not kinds.get("dns").OPTIONS, reason="dns not on this branch")
def test_add_site_adds_a_dns_monitor_with_repeated_expected_values(db):
    alice_project()

    run("add_site", "--kind", "dns", "--host", "example.invalid", "--record-type", "A",
        "--expected", "192.0.2.1", "--expected", "192.0.2.2",
        "--resolver", "127.0.0.1")  # fmt: skip

    site = Site.objects.get()
    assert site.url == "dns://example.invalid/A@127.0.0.1"
    assert site.options["expected"] == ["192.0.2.1", "192.0.2.2"]


@pytest.mark.skipif(not kinds.get("dns").OPTIONS, reason="dns not on this branch")
def test_add_site_refuses_an_unknown_record_type_by_name(db):
    alice_project()

    with pytest.raises(CommandError, match="recordType: 'XYZ' is not a record type"):
        run("add_site", "--kind", "dns", "--host", "example.invalid", "--record-type", "XYZ")


@pytest.mark.skipif("keyword" not in kinds.get("http").OPTIONS, reason="http options not here")
def test_add_site_takes_http_options_and_repeated_headers(db):
    alice_project()

    run("add_site", "http://127.0.0.1:8080/", "--method", "POST", "--keyword", "ok",
        "--expected-status", "200-299", "--header", "X-A: 1", "--header", "X-B: 2",
        "--body", "{}", "--max-response-ms", "500", "--no-follow-redirects")  # fmt: skip

    options = Site.objects.get().options
    assert options["headers"] == {"X-A": "1", "X-B": "2"}
    assert (options["method"], options["keyword"], options["maxResponseMs"]) == ("POST", "ok", 500)
    assert options["followRedirects"] is False
