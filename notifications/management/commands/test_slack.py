"""manage.py test_slack: test the Slack channel made from SLACK_WEBHOOK_URL.

A thin alias of test_channel for that channel (notifications.legacy). Where
no such channel exists yet (no project when it was migrated) the message
goes to SLACK_WEBHOOK_URL itself, through the same Slack transport.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from notifications.models import Channel
from notifications.services import TEST_TITLE, TestResult, channel_test, message_for_test, send_test


class Command(BaseCommand):
    help = (
        "Send a test message to the Slack channel made from SLACK_WEBHOOK_URL and report "
        "whether Slack accepted it. For any other channel: manage.py test_channel <id>."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--text", default=TEST_TITLE, help="The message's title.")

    def handle(self, *args, text: str, **options) -> None:
        if not text.strip():
            raise CommandError("--text is empty; give the message to send.")
        channel = Channel.objects.filter(from_env=True, kind="slack").first()
        if channel is not None:
            result = channel_test(channel=channel, title=text.strip())
        elif settings.SLACK_WEBHOOK_URL:
            message = message_for_test(title=text.strip())
            result = send_test("slack", {"url": settings.SLACK_WEBHOOK_URL}, message)
        else:
            raise CommandError(
                "SLACK_WEBHOOK_URL is not set and no channel was made from it. Add a Slack "
                "channel on the project's Channels page and test it with test_channel <id>."
            )
        report(self, result)


def report(command: BaseCommand, result: TestResult) -> None:
    if not result.ok:
        # The transports keep the webhook URL out of every error.
        raise CommandError(f"Slack did not accept the test message: {result.error}")
    status = f" (HTTP {result.status_code})" if result.status_code else ""
    command.stdout.write(command.style.SUCCESS(f"Slack accepted the test message{status}."))
