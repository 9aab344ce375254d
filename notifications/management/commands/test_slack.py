"""manage.py test_slack: send a test message to the configured Slack webhook."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from notifications.delivery import POST_TIMEOUT
from notifications.slack import TransportError, escape, post_message

DEFAULT_TEXT = "Test message from Uptime: notifications reach this channel."


class Command(BaseCommand):
    help = "Send a test message to SLACK_WEBHOOK_URL and report whether Slack accepted it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--text", default=DEFAULT_TEXT, help="The message to send.")

    def handle(self, *args, text: str, **options) -> None:
        webhook_url = settings.SLACK_WEBHOOK_URL
        if not webhook_url:
            raise CommandError(
                "SLACK_WEBHOOK_URL is not set. Create an incoming webhook in Slack "
                "and set SLACK_WEBHOOK_URL to its URL."
            )
        if not text.strip():
            raise CommandError("--text is empty; give the message to send.")
        try:
            post_message(webhook_url, escape(text), timeout=POST_TIMEOUT)
        except TransportError as exc:
            # exc never contains the webhook URL (notifications.slack redacts it).
            raise CommandError(f"Slack did not accept the test message: {exc}") from None
        self.stdout.write(self.style.SUCCESS("Slack accepted the test message."))
