"""A monitor's own channels in the site API (`channels: [ids]`), and routing that follows them."""

import pytest

from notifications import routing
from notifications.models import Channel
from sites.services import site_create
from teams.models import AuditEvent
from tests.notifications import channel_helpers
from tests.notifications.channel_helpers import api_as, slack_channel

pytestmark = pytest.mark.django_db
# The shared fixtures.
hook_server, hook, team = (
    channel_helpers.hook_server,
    channel_helpers.hook,
    channel_helpers.team,
)
TARGET = "http://127.0.0.1:9/health"


def test_a_monitor_added_with_channels_uses_them_instead_of_the_defaults(team, hook):
    default = slack_channel(team, hook, name="Everyone")
    own = slack_channel(team, hook, name="Shop team", is_default=False)
    body = {"url": TARGET, "project": team.project.pk, "channels": [own.pk]}

    response = api_as(team.editor).post("/api/site", body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["channels"] == [own.pk]
    site = team.project.sites.get()
    assert routing.channels_of(site) == [own]
    assert default not in routing.channels_of(site)


def test_a_monitor_without_channels_says_so_and_uses_the_project_s_defaults(team, hook):
    default = slack_channel(team, hook)
    response = api_as(team.editor).post(
        "/api/site", {"url": TARGET, "project": team.project.pk}, format="json"
    )
    assert response.json()["channels"] == []
    assert routing.channels_of(team.project.sites.get()) == [default]


@pytest.mark.parametrize("bad", ["other project", "unknown", "not a list", "zero"])
def test_a_channel_not_of_the_monitor_s_project_is_a_400_naming_channels(team, hook, bad):
    theirs = Channel.objects.create(project=team.outsider_project, kind="slack", name="x")
    channels = {
        "other project": [theirs.pk],
        "unknown": [987654],
        "not a list": "all",
        "zero": [0],
    }[bad]
    body = {"url": TARGET, "project": team.project.pk, "channels": channels}

    response = api_as(team.editor).post("/api/site", body, format="json")

    assert response.status_code == 400
    assert "channels" in response.json()
    assert not team.project.sites.exists()


def test_patching_channels_sets_them_and_an_empty_list_goes_back_to_the_defaults(team, hook):
    own = slack_channel(team, hook, name="Shop team", is_default=False)
    site = site_create(project=team.project, url=TARGET)
    client = api_as(team.editor)

    response = client.patch(f"/api/site/{site.pk}", {"channels": [own.pk]}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["channels"] == [own.pk]
    assert list(site.channels.all()) == [own]
    event = AuditEvent.objects.get(action="site.changed")
    assert event.detail == {"channels": {"from": [], "to": [own.pk]}}

    response = client.patch(f"/api/site/{site.pk}", {"channels": []}, format="json")
    assert response.json()["channels"] == []
    assert not site.channels.exists()


def test_patching_another_project_s_channel_changes_nothing(team, hook):
    own = slack_channel(team, hook, is_default=False)
    site = site_create(project=team.project, url=TARGET)
    site.channels.set([own])
    theirs = Channel.objects.create(project=team.outsider_project, kind="slack", name="x")

    response = api_as(team.editor).patch(
        f"/api/site/{site.pk}", {"channels": [own.pk, theirs.pk]}, format="json"
    )

    assert response.status_code == 400 and "channels" in response.json()
    assert list(site.channels.all()) == [own]


def test_the_site_list_shows_each_monitor_s_channels(team, hook):
    own = slack_channel(team, hook, is_default=False)
    chosen = site_create(project=team.project, url=TARGET, channels=[own.pk])
    site_create(project=team.project, url=TARGET + "/other")
    sites = api_as(team.viewer).get(f"/api/site?project={team.project.pk}").json()["sites"]
    assert {s["id"]: s["channels"] for s in sites}[chosen.pk] == [own.pk]
    assert sorted(s["channels"] for s in sites) == [[], [own.pk]]


def test_a_channel_shows_the_monitors_that_chose_it(team, hook):
    own = slack_channel(team, hook, is_default=False)
    site = site_create(project=team.project, url=TARGET, channels=[own.pk])
    shown = api_as(team.viewer).get(f"/api/channels/{own.pk}").json()
    assert shown["sites"] == [site.pk]
