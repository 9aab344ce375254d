"""The channels API: create, list, change, delete and test channels; scoping and bad input."""

import pytest

from notifications.models import Channel
from teams.models import AuditEvent
from tests.notifications import channel_helpers
from tests.notifications.channel_helpers import SECRET_PATH, api_as, received, slack_channel

pytestmark = pytest.mark.django_db
# The shared fixtures.
hook_server, hook, team = (
    channel_helpers.hook_server,
    channel_helpers.hook,
    channel_helpers.team,
)
MASK = "********"
CHANNEL_KEYS = {
    "id",
    "project",
    "kind",
    "name",
    "config",
    "events",
    "isDefault",
    "remindEveryMinutes",
    "escalateAfterMinutes",
    "sites",
    "enabled",
    "disabledReason",
    "lastSuccessAt",
    "lastError",
    "lastErrorAt",
    "createdAt",
}


def create(client, body):
    return client.post("/api/channels", body, format="json")


def slack_body(team, hook, **fields):
    return {
        "kind": "slack",
        "name": "Ops Slack",
        "project": team.project.pk,
        "config": {"url": hook.url_for(SECRET_PATH)},
        **fields,
    }


# --- Create ---------------------------------------------------------------------


def test_an_editor_adds_a_channel_and_its_secret_is_stored_but_shown_masked(team, hook):
    body = slack_body(team, hook, events=["up", "down"], isDefault=False, remindEveryMinutes=30)
    response = create(api_as(team.editor), body)

    assert response.status_code == 201, response.json()
    shown = response.json()
    assert set(shown) == CHANNEL_KEYS
    assert shown["config"] == {"url": MASK}
    assert shown["events"] == ["down", "up"]  # the events' own order
    assert shown["isDefault"] is False and shown["remindEveryMinutes"] == 30
    assert shown["enabled"] is True and shown["lastError"] == ""
    channel = Channel.objects.get(pk=shown["id"])
    assert channel.secrets == {"url": hook.url_for(SECRET_PATH)} and channel.config == {}
    event = AuditEvent.objects.get(action="channel.created")
    assert event.actor == team.editor and event.project == team.project
    assert SECRET_PATH not in str(event.detail)


def test_events_default_to_the_model_s_defaults(team, hook):
    response = create(api_as(team.owner), slack_body(team, hook))
    assert response.json()["events"] == list(Channel.DEFAULT_EVENTS)


def test_without_a_project_the_channel_goes_to_the_personal_project(team, hook):
    body = slack_body(team, hook)
    del body["project"]
    response = create(api_as(team.editor), body)
    assert response.status_code == 201
    assert response.json()["project"] == team.editor.personal_project.pk


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "carrier-pigeon"}, "kind"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "evil\u202ename"}, "name"),
        ({"events": ["down", "sometimes"]}, "events"),
        ({"events": "down"}, "events"),
        ({"remindEveryMinutes": 0}, "remindEveryMinutes"),
        ({"escalateAfterMinutes": -5}, "escalateAfterMinutes"),
        ({"escalateAfterMinutes": 10**12}, "escalateAfterMinutes"),
        ({"isDefault": "perhaps"}, "isDefault"),
        ({"config": "https://example.invalid"}, "config"),
        ({"project": 10**30}, "project"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(team, hook, change, field):
    response = create(api_as(team.editor), {**slack_body(team, hook), **change})
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Channel.objects.exists()


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": ["http://127.0.0.1/x"]}, "url"),
        ({"url": {"nested": True}}, "url"),
        ({"url": "http://127.0.0.1/x", "channel": "#ops"}, "channel"),
        ({"url": MASK}, "url"),  # the mask stands for a stored secret; none is stored
    ],
)
def test_a_bad_setting_is_a_400_naming_it_under_config(team, hook, config, setting):
    response = create(api_as(team.editor), {**slack_body(team, hook), "config": config})
    assert response.status_code == 400, response.content
    errors = response.json()
    assert list(errors) == ["config"]
    assert setting in errors["config"], errors


def test_a_webhook_s_settings_are_checked_by_its_kind(team, hook):
    body = {
        **slack_body(team, hook),
        "kind": "webhook",
        "config": {"url": hook.url_for("/in"), "headers": {"Content-Type": "text/plain"}},
    }
    response = create(api_as(team.editor), body)
    assert response.status_code == 400
    assert "headers" in response.json()["config"]


def test_a_viewer_may_not_add_a_channel_and_an_outsider_names_no_project_of_theirs(team, hook):
    assert create(api_as(team.viewer), slack_body(team, hook)).status_code == 403
    response = create(api_as(team.outsider), slack_body(team, hook))
    assert response.status_code == 400 and "project" in response.json()
    assert not Channel.objects.exists()


# --- Read -----------------------------------------------------------------------


def test_the_list_holds_the_user_s_channels_only_with_no_secret_in_it(team, hook):
    mine = slack_channel(team, hook)
    theirs = slack_channel(team, hook, name="Theirs")
    theirs.project = team.outsider_project
    theirs.save()

    response = api_as(team.viewer).get("/api/channels")

    assert response.status_code == 200
    assert [c["id"] for c in response.json()["channels"]] == [mine.pk]
    assert SECRET_PATH not in response.content.decode()
    outsider = api_as(team.outsider)
    assert [c["id"] for c in outsider.get("/api/channels").json()["channels"]] == [theirs.pk]
    assert outsider.get(f"/api/channels?project={team.project.pk}").status_code == 404
    assert outsider.get(f"/api/channels/{mine.pk}").status_code == 404


def test_one_channel_shows_its_health(team, hook):
    channel = slack_channel(team, hook)
    Channel.objects.filter(pk=channel.pk).update(
        enabled=False, disabled_reason="Slack answered HTTP 404: no_service", last_error="x"
    )
    shown = api_as(team.viewer).get(f"/api/channels/{channel.pk}").json()
    assert shown["enabled"] is False
    assert shown["disabledReason"] == "Slack answered HTTP 404: no_service"
    assert shown["lastError"] == "x"


@pytest.mark.parametrize("channel_id", ["999999", "abc", "1e3", "²", "9" * 40])
def test_an_unknown_channel_id_is_a_404(team, channel_id):
    assert api_as(team.owner).get(f"/api/channels/{channel_id}").status_code == 404


def test_the_kinds_list_every_setting_so_a_client_can_build_a_form(team):
    response = api_as(team.viewer).get("/api/channel-kinds")
    assert response.status_code == 200
    kinds = {kind["kind"]: kind for kind in response.json()["kinds"]}
    assert {"slack", "webhook"} <= set(kinds)
    url = kinds["slack"]["fields"][0]
    assert url["name"] == "url" and url["required"] is True and url["secret"] is True
    assert url["type"] == "url" and url["label"]
    assert {f["name"] for f in kinds["webhook"]["fields"]} == {"url", "secret", "headers"}


# --- Update ---------------------------------------------------------------------


def test_a_secret_sent_back_masked_keeps_its_stored_value(team, hook):
    channel = slack_channel(team, hook)
    client = api_as(team.editor)
    shown = client.get(f"/api/channels/{channel.pk}").json()

    response = client.patch(
        f"/api/channels/{channel.pk}",
        {"name": "Renamed", "config": shown["config"]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    channel.refresh_from_db()
    assert channel.name == "Renamed"
    assert channel.secrets == {"url": hook.url_for(SECRET_PATH)}


def test_a_new_secret_replaces_the_old_and_the_audit_log_names_it_without_its_value(team, hook):
    channel = slack_channel(team, hook)
    new_url = hook.url_for("/services/NEW/SECRET")
    response = api_as(team.editor).patch(
        f"/api/channels/{channel.pk}", {"config": {"url": new_url}}, format="json"
    )
    assert response.status_code == 200
    channel.refresh_from_db()
    assert channel.secrets["url"] == new_url
    event = AuditEvent.objects.get(action="channel.changed")
    assert event.detail == {"secrets": ["url"]}
    assert "NEW" not in str(event.detail)


def test_webhook_settings_not_named_keep_their_value(team, hook):
    client = api_as(team.editor)
    body = {
        **slack_body(team, hook),
        "kind": "webhook",
        "config": {"url": hook.url_for("/in"), "secret": "s1gn", "headers": {"X-Team": "ops"}},
    }
    channel_id = create(client, body).json()["id"]
    response = client.patch(
        f"/api/channels/{channel_id}", {"config": {"secret": ""}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["config"] == {"url": MASK, "secret": "", "headers": MASK}
    channel = Channel.objects.get(pk=channel_id)
    assert channel.secrets == {"url": hook.url_for("/in"), "headers": {"X-Team": "ops"}}


def test_enabling_a_disabled_channel_clears_why_it_was_off(team, hook):
    channel = slack_channel(team, hook)
    Channel.objects.filter(pk=channel.pk).update(
        enabled=False, disabled_reason="Slack answered HTTP 404: no_service", last_error="gone"
    )
    response = api_as(team.editor).patch(
        f"/api/channels/{channel.pk}", {"enabled": True}, format="json"
    )
    assert response.status_code == 200
    shown = response.json()
    assert shown["enabled"] is True
    assert shown["disabledReason"] == "" and shown["lastError"] == ""


def test_an_update_checks_everything_before_changing_anything(team, hook):
    channel = slack_channel(team, hook)
    response = api_as(team.editor).patch(
        f"/api/channels/{channel.pk}",
        {"name": "", "events": ["up"], "config": {"url": "nope"}},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"name", "config"} and "url" in errors["config"]
    channel.refresh_from_db()
    assert channel.name == "Ops Slack"


@pytest.mark.parametrize("body", [{}, {"kind": "webhook"}, {"remindEveryMinutes": 0}, []])
def test_a_bad_update_is_a_400(team, hook, body):
    channel = slack_channel(team, hook)
    response = api_as(team.editor).patch(f"/api/channels/{channel.pk}", body, format="json")
    assert response.status_code == 400


def test_viewers_may_not_change_delete_or_test_a_channel(team, hook):
    channel = slack_channel(team, hook)
    viewer = api_as(team.viewer)
    url = f"/api/channels/{channel.pk}"
    assert viewer.patch(url, {"name": "x"}, format="json").status_code == 403
    assert viewer.delete(url).status_code == 403
    assert viewer.post(url + "/test").status_code == 403
    assert hook.log == []
    assert Channel.objects.get(pk=channel.pk).name == "Ops Slack"


# --- Delete ---------------------------------------------------------------------


def test_an_editor_deletes_a_channel(team, hook):
    channel = slack_channel(team, hook)
    response = api_as(team.editor).delete(f"/api/channels/{channel.pk}")
    assert response.status_code == 204
    assert not Channel.objects.exists()
    assert AuditEvent.objects.filter(action="channel.deleted").count() == 1
    assert api_as(team.editor).delete(f"/api/channels/{channel.pk}").status_code == 404


# --- Test -----------------------------------------------------------------------


def test_a_test_message_reaches_the_destination_and_its_answer_comes_back(team, hook):
    hook.expect_request(SECRET_PATH, method="POST").respond_with_data("ok")
    channel = slack_channel(team, hook)

    response = api_as(team.editor).post(f"/api/channels/{channel.pk}/test")

    assert response.status_code == 200
    assert response.json() == {"ok": True, "statusCode": 200, "answer": "ok", "error": ""}
    (message,) = received(hook)
    assert "Test message from Uptime" in message["text"]
    assert f"/?project={team.project.pk}" in message["text"]
    channel.refresh_from_db()
    assert channel.last_success_at is not None


def test_a_refused_test_says_why_records_the_error_and_keeps_the_channel_on(team, hook):
    hook.expect_request(SECRET_PATH, method="POST").respond_with_data("no_service", status=404)
    channel = slack_channel(team, hook)

    response = api_as(team.editor).post(f"/api/channels/{channel.pk}/test")

    assert response.status_code == 200
    answer = response.json()
    assert answer["ok"] is False and answer["statusCode"] == 404
    assert "no_service" in answer["error"] and "SECRET" not in answer["error"]
    channel.refresh_from_db()
    assert channel.enabled is True
    assert "no_service" in channel.last_error and channel.last_error_at is not None


def test_a_test_to_an_unreachable_destination_says_so(team, refused_url):
    channel = Channel.objects.create(
        project=team.project, kind="slack", name="Gone", secrets={"url": refused_url + "SECRET"}
    )
    response = api_as(team.editor).post(f"/api/channels/{channel.pk}/test")
    answer = response.json()
    assert answer["ok"] is False and answer["statusCode"] is None
    assert "refused" in answer["error"].lower() and "SECRET" not in answer["error"]


def test_the_address_guard_refuses_a_private_destination_when_it_is_on(team, hook, settings):
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = False
    channel = slack_channel(team, hook)
    answer = api_as(team.editor).post(f"/api/channels/{channel.pk}/test").json()
    assert answer["ok"] is False
    assert hook.log == []
