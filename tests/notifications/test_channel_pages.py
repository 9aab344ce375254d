"""The project's Channels page: list with health, add, edit, test, delete; the dashboard banner."""

import pytest
from django.urls import reverse

from notifications.models import Channel
from teams.models import AuditEvent
from tests.notifications import channel_helpers
from tests.notifications.channel_helpers import SECRET_PATH, received, slack_channel

pytestmark = pytest.mark.django_db
# The shared fixtures.
hook_server, hook, team = (
    channel_helpers.hook_server,
    channel_helpers.hook,
    channel_helpers.team,
)
EVENTS = ["down", "up"]


def as_(client, user):
    client.force_login(user)
    return client


def page_of(team):
    return reverse("project_channels", args=[team.project.pk])


def add_url(team, kind="slack"):
    return reverse("channel_add", args=[team.project.pk]) + f"?kind={kind}"


def edit_url(channel):
    return reverse("channel_edit", args=[channel.project_id, channel.pk])


def turn_off(channel, reason="Slack answered HTTP 404: no_service (the webhook was removed)"):
    Channel.objects.filter(pk=channel.pk).update(enabled=False, disabled_reason=reason)


def test_every_member_sees_the_channels_with_their_health_and_no_secret(client, team, hook):
    slack_channel(team, hook, events=EVENTS, name="Ops <Slack>")
    broken = slack_channel(team, hook, name="Old hook")
    turn_off(broken)

    response = as_(client, team.viewer).get(page_of(team))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Ops &lt;Slack&gt;" in page and "Down, Up again" in page
    assert "no_service (the webhook was removed)" in page
    assert SECRET_PATH not in page
    assert "Send test" not in page and "Add a channel" not in page  # a viewer only reads


def test_an_outsider_gets_a_404(client, team, hook):
    channel = slack_channel(team, hook)
    as_(client, team.outsider)
    assert client.get(page_of(team)).status_code == 404
    assert client.get(edit_url(channel)).status_code == 404
    # Another project's channel under one's own project's URL is no way in either.
    elsewhere = reverse("channel_edit", args=[team.outsider_project.pk, channel.pk])
    assert client.get(elsewhere).status_code == 404


def test_an_editor_chooses_a_kind_then_fills_in_its_settings(client, team, hook):
    as_(client, team.editor)
    page = client.get(page_of(team)).content.decode()
    assert 'value="slack"' in page and 'value="webhook"' in page

    form = client.get(add_url(team, "webhook")).content.decode()
    assert 'name="config_url"' in form and 'name="config_secret"' in form
    assert 'name="config_headers"' in form

    response = client.post(
        add_url(team, "webhook"),
        {
            "kind": "webhook",
            "name": "Our receiver",
            "events": EVENTS,
            "is_default": "on",
            "config_url": hook.url_for("/in"),
            "config_secret": "s1gn",
            "config_headers": "X-Team: ops\nAuthorization: Bearer abc",
            "remind_every_minutes": "15",
        },
    )

    assert response.status_code == 302
    channel = Channel.objects.get()
    assert channel.kind == "webhook" and channel.events == EVENTS
    assert channel.remind_every_minutes == 15 and channel.is_default
    assert channel.secrets == {
        "url": hook.url_for("/in"),
        "secret": "s1gn",
        "headers": {"X-Team": "ops", "Authorization": "Bearer abc"},
    }
    assert AuditEvent.objects.filter(action="channel.created", actor=team.editor).exists()


def test_a_bad_setting_is_shown_beside_its_input(client, team):
    response = as_(client, team.editor).post(
        add_url(team), {"kind": "slack", "name": "Ops", "events": EVENTS, "config_url": "nope"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["config_url"]
    assert not Channel.objects.exists()


def test_an_unknown_kind_goes_back_to_the_list(client, team):
    response = as_(client, team.editor).get(add_url(team, "fax"))
    assert response.status_code == 302 and response.url == page_of(team)


def test_a_viewer_may_not_add_edit_test_or_delete(client, team, hook):
    channel = slack_channel(team, hook)
    as_(client, team.viewer)
    assert client.get(add_url(team)).status_code == 403
    assert client.get(edit_url(channel)).status_code == 403
    test = reverse("channel_test", args=[team.project.pk, channel.pk])
    assert client.post(test).status_code == 403
    delete = reverse("channel_delete", args=[team.project.pk, channel.pk])
    assert client.post(delete).status_code == 403
    assert hook.log == [] and Channel.objects.filter(pk=channel.pk).exists()


def test_editing_shows_secrets_only_as_a_mask_and_empty_keeps_them(client, team, hook):
    channel = slack_channel(team, hook, events=EVENTS)
    as_(client, team.editor)

    form = client.get(edit_url(channel)).content.decode()
    assert SECRET_PATH not in form and 'placeholder="********"' in form

    response = client.post(
        edit_url(channel),
        {"kind": "slack", "name": "Renamed", "events": ["down"], "config_url": "", "enabled": "on"},
    )

    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.name == "Renamed" and channel.events == ["down"]
    assert channel.secrets == {"url": hook.url_for(SECRET_PATH)}
    assert channel.is_default is False  # unticked


def test_an_optional_secret_can_be_removed(client, team, hook):
    channel = Channel.objects.create(
        project=team.project,
        kind="webhook",
        name="Receiver",
        secrets={"url": hook.url_for("/in"), "secret": "s1gn"},
    )
    response = as_(client, team.editor).post(
        edit_url(channel),
        {"kind": "webhook", "name": "Receiver", "clear_secret": "on", "enabled": "on"},
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.secrets == {"url": hook.url_for("/in")}


def test_a_disabled_channel_shows_why_and_is_turned_back_on_from_its_form(client, team, hook):
    channel = slack_channel(team, hook, events=EVENTS)
    turn_off(channel)
    as_(client, team.editor)
    assert "no_service" in client.get(edit_url(channel)).content.decode()

    client.post(
        edit_url(channel),
        {"kind": "slack", "name": channel.name, "events": EVENTS, "enabled": "on"},
    )

    channel.refresh_from_db()
    assert channel.enabled and channel.disabled_reason == ""


def test_send_test_shows_what_the_destination_answered(client, team, hook):
    hook.expect_request(SECRET_PATH, method="POST").respond_with_data("ok")
    channel = slack_channel(team, hook)
    test = reverse("channel_test", args=[team.project.pk, channel.pk])

    response = as_(client, team.editor).post(test, follow=True)

    page = response.content.decode()
    assert "accepted the test message (HTTP 200): ok" in page
    (message,) = received(hook)
    assert "Test message from Uptime" in message["text"]


def test_send_test_shows_why_it_failed(client, team, hook):
    hook.expect_request(SECRET_PATH, method="POST").respond_with_data("no_service", status=404)
    channel = slack_channel(team, hook)
    test = reverse("channel_test", args=[team.project.pk, channel.pk])

    page = as_(client, team.editor).post(test, follow=True).content.decode()

    assert "was not delivered" in page and "no_service" in page
    assert SECRET_PATH not in page
    channel.refresh_from_db()
    assert channel.enabled  # a test never turns a channel off


def test_delete_asks_first_then_deletes(client, team, hook):
    channel = slack_channel(team, hook)
    delete = reverse("channel_delete", args=[team.project.pk, channel.pk])
    as_(client, team.editor)
    assert "Delete this channel?" in client.get(delete).content.decode()
    assert Channel.objects.exists()

    response = client.post(delete)

    assert response.status_code == 302 and not Channel.objects.exists()


def test_the_project_tabs_link_to_the_channels_page(client, team):
    page = as_(client, team.viewer).get(reverse("project_members", args=[team.project.pk]))
    assert page_of(team) in page.content.decode()


def test_admins_see_a_banner_naming_each_disabled_channel_and_why(client, team, hook):
    broken = slack_channel(team, hook, name="Old hook")
    turn_off(broken)
    slack_channel(team, hook, name="Paused by hand")
    Channel.objects.filter(name="Paused by hand").update(enabled=False)

    page = as_(client, team.admin).get(reverse("dashboard")).content.decode()

    assert "Old hook" in page and "no_service (the webhook was removed)" in page
    assert edit_url(broken) in page
    assert "Paused by hand" not in page  # switched off on purpose: nothing to warn about


def test_editors_and_viewers_see_no_banner(client, team, hook):
    turn_off(slack_channel(team, hook, name="Old hook"))
    for member in (team.editor, team.viewer, team.outsider):
        page = as_(client, member).get(reverse("dashboard")).content.decode()
        assert "Old hook" not in page


def test_a_header_line_without_a_colon_is_shown_beside_the_headers(client, team, hook):
    response = as_(client, team.editor).post(
        add_url(team, "webhook"),
        {
            "kind": "webhook",
            "name": "Receiver",
            "config_url": hook.url_for("/in"),
            "config_headers": "X-Team ops",
        },
    )
    assert response.status_code == 200
    assert "Name: value" in str(response.context["form"].errors["config_headers"])
    assert not Channel.objects.exists()
