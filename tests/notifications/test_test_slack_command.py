"""manage.py test_slack: a test message, and clear errors that never show the webhook."""

import pytest
from django.core.management import CommandError, call_command

from tests.notifications.helpers import answer, texts


def test_it_sends_the_default_test_message(slack_server, capsys):
    answer(slack_server)
    call_command("test_slack")
    assert texts(slack_server) == ["Test message from Uptime: notifications reach this channel."]
    assert "Slack accepted the test message." in capsys.readouterr().out


def test_it_sends_the_given_text_escaped(slack_server):
    answer(slack_server)
    call_command("test_slack", "--text", "<!channel> hi & bye")
    assert texts(slack_server) == ["&lt;!channel&gt; hi &amp; bye"]


def test_it_fails_clearly_when_no_webhook_is_set():
    with pytest.raises(CommandError, match="SLACK_WEBHOOK_URL is not set"):
        call_command("test_slack")


def test_it_refuses_an_empty_text(slack_server):
    with pytest.raises(CommandError, match="--text is empty"):
        call_command("test_slack", "--text", "  ")
    assert slack_server.log == []


def test_it_fails_with_slacks_reason_and_without_the_webhook_url(slack_server, settings, capsys):
    answer(slack_server, status=404, body="no_service")
    with pytest.raises(CommandError) as caught:
        call_command("test_slack")
    assert "no_service" in str(caught.value)
    assert "/hook" not in str(caught.value)
    output = capsys.readouterr()
    assert settings.SLACK_WEBHOOK_URL not in output.out + output.err


def test_it_fails_clearly_when_slack_cannot_be_reached(settings, refused_url):
    settings.SLACK_WEBHOOK_URL = refused_url + "services/SECRET"
    with pytest.raises(CommandError, match="Connection refused") as caught:
        call_command("test_slack")
    assert "SECRET" not in str(caught.value)
