"""add_site, list_sites and remove_site. Every URL here is on 127.0.0.1 or .invalid."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from monitor.checking import check_sites
from monitor.models import Check, CheckBlock
from monitor.packing import pack_checks
from sites.models import Site
from sites.services import site_create
from tests.factories import alice_project


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- add_site ---------------------------------------------------------------


def test_add_site_stores_the_normalised_url_and_prints_the_new_id(db):
    out = run("add_site", "HTTP://127.0.0.1:8080")

    site = Site.objects.get()
    assert site.url == "http://127.0.0.1:8080/"
    assert out.strip() == f"Added site {site.id}: http://127.0.0.1:8080/ (checked every 60s)."


def test_add_site_takes_name_interval_timeout_and_disabled(db):
    out = run(
        "add_site",
        "http://127.0.0.1:8080/",
        "--name",
        "Local app",
        "--interval",
        "300",
        "--timeout",
        "30",
        "--disabled",
    )

    site = Site.objects.get()
    assert (site.name, site.interval, site.timeout, site.enabled) == ("Local app", 300, 30, False)
    assert "(disabled)" in out


def test_add_site_refuses_an_interval_of_five_with_the_field_named(db):
    with pytest.raises(CommandError) as error:
        run("add_site", "http://127.0.0.1:8080/", "--interval", "5", "--timeout", "5")

    assert "interval: Ensure this value is greater than or equal to 10." in str(error.value)
    assert error.value.returncode == 1
    assert not Site.objects.exists()


def test_add_site_refuses_a_timeout_longer_than_the_interval(db):
    with pytest.raises(CommandError, match=r"timeout: The timeout \(30s\) cannot be longer"):
        run("add_site", "http://127.0.0.1:8080/", "--interval", "20", "--timeout", "30")


def test_add_site_refuses_a_url_already_monitored_in_another_spelling(db):
    site_create(project=alice_project(), url="http://127.0.0.1:8080/")

    with pytest.raises(
        CommandError, match="url: A site with this URL is already monitored in this project."
    ):
        run("add_site", "HTTP://127.0.0.1:8080")

    assert Site.objects.count() == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/", "Unsupported scheme 'ftp'"),
        ("http://user:pw@127.0.0.1/", "Credentials in the URL are not supported"),
        ("", "Enter a URL."),
    ],
)
def test_add_site_refuses_an_invalid_url_and_says_why(db, url, message):
    with pytest.raises(CommandError, match=message):
        run("add_site", url)

    assert not Site.objects.exists()


def test_add_site_refuses_a_private_address_when_they_are_not_allowed(db, settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False

    with pytest.raises(CommandError, match="resolves to a non-public address"):
        run("add_site", "http://127.0.0.1:8080/")


def test_add_site_refuses_an_interval_that_is_not_a_number(db):
    with pytest.raises(CommandError, match="invalid int value: 'often'"):
        run("add_site", "http://127.0.0.1:8080/", "--interval", "often")


# --- list_sites -------------------------------------------------------------


def test_list_sites_with_no_sites_says_how_to_add_one(db):
    assert "No sites yet. Add one with `manage.py add_site <url>`." in run("list_sites")


def test_list_sites_prints_a_table_with_the_reason_a_site_is_down(db, refused_url):
    down = site_create(project=alice_project(), url=refused_url, name="Closed port")
    paused = site_create(
        project=alice_project(), url="http://x.invalid/", enabled=False, interval=600
    )
    check_sites([down.id])

    lines = run("list_sites").splitlines()

    assert lines[0].split() == [
        "ID", "KIND", "STATE", "TARGET", "NAME", "INTERVAL", "LAST", "CHECKED", "REASON"
    ]  # fmt: skip
    assert lines[1].split()[:4] == [str(down.id), "http", "down", refused_url]
    assert lines[1].endswith("Connection refused")
    assert lines[2].split() == [str(paused.id), "http", "paused", paused.url, "600s", "never"]


def test_list_sites_as_json_gives_every_site_with_its_state(db, refused_url):
    down = site_create(project=alice_project(), url=refused_url)
    check_sites([down.id])

    [row] = json.loads(run("list_sites", "--json"))

    assert row["id"] == down.id
    assert row["url"] == refused_url
    assert row["status"] == "down"
    assert row["last_error_kind"] == "connect"
    assert row["reason"] == "Connection refused"
    assert row["last_checked_at"] is not None


def test_list_sites_as_json_with_no_sites_is_an_empty_array(db):
    assert json.loads(run("list_sites", "--json")) == []


# --- remove_site ------------------------------------------------------------


def test_remove_site_by_id_deletes_the_site_and_its_checks(db, refused_url):
    site = site_create(project=alice_project(), url=refused_url)
    check_sites([site.id])

    out = run("remove_site", str(site.id))

    assert out.strip() == f"Removed site {site.id}: {refused_url} and its 1 check."
    assert not Site.objects.exists()
    assert not Check.objects.exists()


def test_remove_site_counts_packed_checks_with_the_rest(db, refused_url):
    site = site_create(project=alice_project(), url=refused_url)
    hours_ago = timezone.now() - timedelta(hours=3)
    Check.objects.bulk_create(
        Check(site=site, up=False, checked_at=hours_ago + timedelta(minutes=n)) for n in range(3)
    )
    assert pack_checks(older_than=timezone.now()) == 3
    check_sites([site.id])

    out = run("remove_site", str(site.id))

    assert out.strip() == f"Removed site {site.id}: {refused_url} and its 4 checks."
    assert not CheckBlock.objects.exists()


def test_remove_site_by_url_accepts_the_url_as_typed(db):
    site_create(project=alice_project(), url="https://127.0.0.1:8443/")
    kept = site_create(project=alice_project(), url="https://127.0.0.1:9443/")

    run("remove_site", "127.0.0.1:8443")

    assert list(Site.objects.all()) == [kept]


@pytest.mark.parametrize("identifier", ["42", "http://127.0.0.1:9/", "not a url"])
def test_remove_site_of_an_unknown_site_is_an_error(db, identifier):
    site_create(project=alice_project(), url="http://127.0.0.1:8080/")

    with pytest.raises(CommandError, match="No site with id or URL"):
        run("remove_site", identifier)

    assert Site.objects.count() == 1
