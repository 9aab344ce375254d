"""manage.py test_slack: an alias of test_channel for the channel made from SLACK_WEBHOOK_URL."""

import pytest
from django.core.management import CommandError, call_command

from notifications.legacy import env_channel_ensure
from notifications.models import Channel
from tests.factories import alice_project
from tests.notifications.helpers import answer, texts


@pytest.fixture(autouse=True)
def variable_points_at_the_stand_in(request, settings):
    """SLACK_WEBHOOK_URL is the Slack stand-in's URL in the tests that have one."""
    if "slack_server" in request.fixturenames:
        settings.SLACK_WEBHOOK_URL = request.getfixturevalue("slack_server").url_for("/hook")


def test_it_sends_the_default_test_message(slack_server, capsys, db):
    answer(slack_server)
    call_command("test_slack")
    (text,) = texts(slack_server)
    assert text.startswith("*Test message from Uptime*")
    assert "Slack accepted the test message (HTTP 200)." in capsys.readouterr().out


def test_it_tests_the_channel_made_from_the_variable_and_records_its_health(slack_server, db):
    # The first project made gets the variable's channel (notifications.receivers).
    channel = env_channel_ensure(project=alice_project()) or Channel.objects.get(from_env=True)
    answer(slack_server)
    call_command("test_slack")
    assert "Test message from Uptime" in texts(slack_server)[0]
    assert "reach this channel (Slack (from SLACK_WEBHOOK_URL))" in texts(slack_server)[0]
    channel.refresh_from_db()
    assert channel.last_success_at is not None


def test_it_sends_the_given_text_escaped(slack_server, db):
    answer(slack_server)
    call_command("test_slack", "--text", "<!channel> hi & bye")
    assert texts(slack_server)[0].startswith("*&lt;!channel&gt; hi &amp; bye*")


def test_it_fails_clearly_when_no_webhook_is_set(db):
    with pytest.raises(CommandError, match="SLACK_WEBHOOK_URL is not set"):
        call_command("test_slack")


def test_it_refuses_an_empty_text(slack_server, db):
    with pytest.raises(CommandError, match="--text is empty"):
        call_command("test_slack", "--text", "  ")
    assert slack_server.log == []


def test_it_fails_with_slacks_reason_and_without_the_webhook_url(
    slack_server, settings, capsys, db
):
    answer(slack_server, status=404, body="no_service")
    with pytest.raises(CommandError) as caught:
        call_command("test_slack")
    assert "no_service" in str(caught.value)
    assert "/hook" not in str(caught.value)
    output = capsys.readouterr()
    assert settings.SLACK_WEBHOOK_URL not in output.out + output.err


def test_it_fails_clearly_when_slack_cannot_be_reached(settings, refused_url, db):
    settings.SLACK_WEBHOOK_URL = refused_url + "services/SECRET"
    with pytest.raises(CommandError, match="Connection refused") as caught:
        call_command("test_slack")
    assert "SECRET" not in str(caught.value)
