"""`manage.py location` and add_site's --location and --quorum, with their errors."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from monitor.locations import location_token
from monitor.models import Location
from sites.models import Site
from tests.factories import alice
from tests.monitor.location_helpers import live_location, stale_location

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_location_add_prints_the_token_and_the_probe_command():
    out = run("location", "add", "eu-west", "--label", "Frankfurt")

    location = Location.objects.get(name="eu-west")
    assert location.label == "Frankfurt" and location.enabled
    token = location_token(location)
    assert f"Token (shown once, keep it secret): {token}" in out
    assert f"UPTIME_LOCATION=eu-west UPTIME_LOCATION_TOKEN={token} " in out
    assert "UPTIME_LOCATION=eu-west " in out and "make probe" in out


@pytest.mark.parametrize(
    "name, says",
    [
        ("EU_West", "is not a location name"),
        ("x" * 33, "is not a location name"),
        ("eu.west", "is not a location name"),
        ("default", "exists already"),
    ],
)
def test_location_add_refuses_a_bad_or_taken_name_with_a_nonzero_exit(name, says):
    with pytest.raises(CommandError, match=says) as raised:
        run("location", "add", name)

    assert raised.value.returncode != 0
    assert Location.objects.count() == 1


def test_location_list_shows_each_locations_state_and_heartbeat():
    live_location("eu-west", "Frankfurt", hostname="probe-1")
    stale_location("us-east")
    Location.objects.create(name="off", enabled=False)

    lines = run("location", "list").splitlines()

    assert lines[0].startswith("default: live, last heartbeat never")
    assert lines[1].startswith("eu-west (Frankfurt): live, last heartbeat 20")
    assert lines[1].endswith(" on probe-1")
    assert lines[2].startswith("us-east: stale, last heartbeat 20")
    assert lines[3].startswith("off: disabled")


def test_location_disable_and_enable():
    live_location("eu-west")

    assert "Disabled location eu-west." in run("location", "disable", "eu-west")
    assert not Location.objects.get(name="eu-west").enabled
    assert "Enabled location eu-west." in run("location", "enable", "eu-west")
    assert Location.objects.get(name="eu-west").enabled


def test_the_default_location_cannot_be_disabled_while_it_is_the_only_one():
    with pytest.raises(CommandError, match="central workers"):
        run("location", "disable", "default")


def test_location_rotate_token_prints_a_new_token_and_revokes_the_old():
    location = live_location("eu-west")
    old = location_token(location)

    out = run("location", "rotate-token", "eu-west")

    location.refresh_from_db()
    assert location.token_version == 2
    assert f"New token (shown once, keep it secret): {location_token(location)}" in out
    assert old not in out


@pytest.mark.parametrize("action", ["disable", "enable", "rotate-token"])
def test_an_unknown_location_is_named(action):
    with pytest.raises(CommandError, match="No location is named 'nowhere'"):
        run("location", action, "nowhere")


def test_location_without_an_action_is_an_error():
    with pytest.raises(CommandError):
        run("location")


# --- add_site --location --quorum -----------------------------------------------------


def test_add_site_takes_locations_a_quorum_and_regional_alerts():
    live_location("eu-west")
    live_location("us-east")

    run(
        "add_site",
        "http://127.0.0.1:8001/",
        "--user",
        alice().username,
        "--location",
        "eu-west",
        "--location",
        "us-east",
        "--quorum",
        "2",
        "--notify-regional",
    )

    site = Site.objects.get()
    assert sorted(site.locations.values_list("name", flat=True)) == ["eu-west", "us-east"]
    assert site.quorum == 2 and site.notify_regional is True


@pytest.mark.parametrize(
    "args, says",
    [
        (["--location", "nowhere"], "locations: No enabled location is named 'nowhere'"),
        (["--quorum", "0"], "quorum: "),
        (["--quorum", "65"], "quorum: "),
        (["--quorum", "x"], "invalid int value"),
    ],
)
def test_add_site_refuses_an_unknown_location_or_a_bad_quorum(args, says):
    with pytest.raises(CommandError, match=says):
        run("add_site", "http://127.0.0.1:8001/", "--user", alice().username, *args)

    assert not Site.objects.exists()
