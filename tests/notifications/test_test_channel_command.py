"""manage.py test_channel <id>: a test message through one channel, and what it answered."""

import pytest
from django.core.management import CommandError, call_command

from notifications.models import Channel
from tests.notifications import channel_helpers
from tests.notifications.channel_helpers import SECRET_PATH, received, slack_channel

pytestmark = pytest.mark.django_db
# The shared fixtures.
hook_server, hook, team = (
    channel_helpers.hook_server,
    channel_helpers.hook,
    channel_helpers.team,
)


def test_it_prints_what_the_destination_answered(team, hook, capsys):
    hook.expect_request(SECRET_PATH, method="POST").respond_with_data("ok")
    channel = slack_channel(team, hook)

    call_command("test_channel", str(channel.pk))

    out = capsys.readouterr().out
    assert "Ops Slack (Slack, project Operations) accepted the test message (HTTP 200): ok" in out
    (message,) = received(hook)
    assert "Test message from Uptime" in message["text"]
    channel.refresh_from_db()
    assert channel.last_success_at is not None


def test_a_refusal_exits_non_zero_with_the_reason_and_no_secret(team, hook, capsys):
    hook.expect_request(SECRET_PATH, method="POST").respond_with_data("no_service", status=404)
    channel = slack_channel(team, hook)

    with pytest.raises(CommandError) as caught:
        call_command("test_channel", str(channel.pk))

    assert "did not accept the test message (HTTP 404)" in str(caught.value)
    assert "no_service" in str(caught.value) and "SECRET" not in str(caught.value)
    output = capsys.readouterr()
    assert SECRET_PATH not in output.out + output.err
    channel.refresh_from_db()
    assert channel.enabled and "no_service" in channel.last_error


def test_an_unreachable_destination_exits_non_zero(team, refused_url):
    channel = Channel.objects.create(
        project=team.project, kind="slack", name="Gone", secrets={"url": refused_url + "SECRET"}
    )
    with pytest.raises(CommandError, match="refused") as caught:
        call_command("test_channel", str(channel.pk))
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize(
    ("given", "reason"),
    [("424242", "No channel has the id 424242"), ("slack", "is not a channel id"), ("-1", "not")],
)
def test_an_unknown_id_exits_non_zero_with_a_clear_message(team, given, reason):
    with pytest.raises(CommandError, match=reason):
        call_command("test_channel", given)


def test_a_disabled_channel_can_still_be_tested(team, hook, capsys):
    hook.expect_request(SECRET_PATH, method="POST").respond_with_data("ok")
    channel = slack_channel(team, hook)
    Channel.objects.filter(pk=channel.pk).update(enabled=False, disabled_reason="was 404")
    call_command("test_channel", str(channel.pk))
    assert "accepted" in capsys.readouterr().out
    channel.refresh_from_db()
    assert channel.enabled is False  # testing is a question; turning it on is an edit
