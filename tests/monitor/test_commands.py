"""ping, check_site and check_all, against servers on 127.0.0.1 only."""

import json
import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from werkzeug import Response

from monitor.models import Check
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project

PROJECT_DIR = Path(__file__).resolve().parents[2]


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_expecting_exit(*args) -> tuple[int, str]:
    out = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command(*args, stdout=out, stderr=StringIO())
    return exit_info.value.code, out.getvalue()


def manage(*args) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "UPTIME_DATA_DIR": str(django_settings.DATA_DIR),
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- ping -------------------------------------------------------------------


def test_ping_of_a_working_server_prints_up_with_status_and_time(httpserver):
    httpserver.expect_request("/health").respond_with_data("ok")

    out, _ = run("ping", httpserver.url_for("/health"))

    assert out.startswith("UP")
    assert "HTTP 200" in out
    assert " ms" in out


def test_ping_of_a_refused_port_says_down_and_why_and_exits_one(refused_url):
    code, out = run_expecting_exit("ping", refused_url)

    assert code == 1
    assert out.startswith("DOWN")
    assert "Connection refused" in out


def test_ping_of_an_error_status_reports_the_status_as_the_reason(httpserver):
    httpserver.expect_request("/").respond_with_data("busy", status=503)

    code, out = run_expecting_exit("ping", httpserver.url_for("/"))

    assert code == 1
    assert "HTTP 503 SERVICE UNAVAILABLE" in out.upper()


def test_ping_of_a_name_that_does_not_resolve_reports_a_dns_failure():
    code, out = run_expecting_exit("ping", "http://x.invalid/", "--json")

    result = json.loads(out)
    assert code == 1
    assert result["up"] is False
    assert result["error_kind"] == "dns"
    assert "x.invalid" in result["reason"]


def test_ping_gives_up_after_the_timeout(httpserver):
    def slow(request):
        time.sleep(1.5)
        return Response("late")

    httpserver.expect_request("/").respond_with_handler(slow)

    code, out = run_expecting_exit("ping", httpserver.url_for("/"), "--timeout", "1")

    assert code == 1
    assert "No complete answer within 1s" in out


def test_ping_normalises_the_url_as_the_api_does(httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    raw = httpserver.url_for("").upper().rstrip("/")  # "HTTP://LOCALHOST:1234"

    out, _ = run("ping", raw, "--json")

    assert json.loads(out)["url"] == f"http://localhost:{httpserver.port}/"


def test_ping_refuses_a_private_address_when_they_are_not_allowed(settings, httpserver):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False

    with pytest.raises(CommandError, match="resolves to a non-public address") as error:
        run("ping", f"http://127.0.0.1:{httpserver.port}/")

    assert error.value.returncode == 2
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://127.0.0.1/"], "Unsupported scheme 'ftp'"),
        (["http:// spaced.invalid/"], "spaces"),
        (["http://127.0.0.1/", "--timeout", "0"], "--timeout must be between 1 and 60"),
        (["http://127.0.0.1/", "--timeout", "61"], "--timeout must be between 1 and 60"),
    ],
)
def test_ping_refuses_bad_input_with_exit_status_two(args, message):
    with pytest.raises(CommandError, match=message) as error:
        run("ping", *args)

    assert error.value.returncode == 2


def test_ping_stores_nothing(db, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")

    run("ping", httpserver.url_for("/"))

    assert Check.objects.count() == 0


def test_ping_from_the_shell_exits_one_when_down_without_a_traceback(refused_url):
    done = manage("ping", refused_url)

    assert done.returncode == 1
    assert done.stdout.startswith("DOWN")
    assert "Traceback" not in done.stderr


def test_ping_from_the_shell_exits_two_on_a_bad_url_with_a_plain_message():
    done = manage("ping", "gopher://127.0.0.1/")

    assert done.returncode == 2
    assert "CommandError: Cannot ping 'gopher://127.0.0.1/'" in done.stderr
    assert "Traceback" not in done.stderr


# --- check_site -------------------------------------------------------------


def test_check_site_records_an_up_check_and_updates_the_site(db, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    site = site_create(project=alice_project(), url=httpserver.url_for("/"))

    out, _ = run("check_site", str(site.id))

    site.refresh_from_db()
    check = Check.objects.get(site=site)
    assert out.startswith("UP")
    assert f"#{site.id} {site.url}" in out
    assert check.up and check.status_code == 200
    assert site.status == Site.Status.UP


def test_check_site_finds_a_site_by_its_url_as_typed(db, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    site = site_create(project=alice_project(), url=httpserver.url_for("/"))

    out, _ = run("check_site", f"HTTP://LOCALHOST:{httpserver.port}", "--json")

    assert json.loads(out)["site_id"] == site.id


def test_check_site_records_a_down_check_and_exits_one(db, refused_url):
    site = site_create(project=alice_project(), url=refused_url)

    code, out = run_expecting_exit("check_site", str(site.id))

    site.refresh_from_db()
    assert code == 1
    assert "Connection refused" in out
    assert site.status == Site.Status.DOWN
    assert Check.objects.get(site=site).error_kind == "connect"


def test_check_site_checks_a_disabled_site_too(db, httpserver):
    httpserver.expect_request("/").respond_with_data("ok")
    site = site_create(project=alice_project(), url=httpserver.url_for("/"), enabled=False)

    run("check_site", str(site.id))

    assert Check.objects.filter(site=site, up=True).count() == 1


@pytest.mark.parametrize("identifier", ["999", "http://127.0.0.1:9/", "not a url"])
def test_check_site_of_an_unknown_site_is_an_error_with_exit_status_two(db, identifier):
    with pytest.raises(CommandError, match="No site with id or URL") as error:
        run("check_site", identifier)

    assert error.value.returncode == 2


# --- check_all --------------------------------------------------------------


def test_check_all_with_no_sites_says_so_and_succeeds(db):
    out, _ = run("check_all")

    assert out.strip() == "No enabled sites to check."


def test_check_all_checks_every_enabled_site_and_exits_one_if_any_is_down(
    db, httpserver, refused_url
):
    httpserver.expect_request("/").respond_with_data("ok")
    up = site_create(project=alice_project(), url=httpserver.url_for("/"))
    down = site_create(project=alice_project(), url=refused_url)
    paused = site_create(project=alice_project(), url="http://x.invalid/", enabled=False)

    code, out = run_expecting_exit("check_all")

    lines = out.strip().splitlines()
    assert code == 1
    assert lines[0].startswith("UP") and f"#{up.id} " in lines[0]
    assert lines[1].startswith("DOWN") and f"#{down.id} " in lines[1]
    assert lines[2] == "1 up, 1 down."
    assert set(Check.objects.values_list("site_id", flat=True)) == {up.id, down.id}
    assert not Check.objects.filter(site=paused).exists()


def test_check_all_succeeds_when_every_site_is_up(db, httpserver):
    httpserver.expect_request("/a").respond_with_data("ok")
    httpserver.expect_request("/b").respond_with_data("ok")
    site_create(project=alice_project(), url=httpserver.url_for("/a"))
    site_create(project=alice_project(), url=httpserver.url_for("/b"))

    out, _ = run("check_all", "--json")

    results = json.loads(out)
    assert [r["up"] for r in results] == [True, True]
    assert Check.objects.count() == 2
