"""manage.py test_channel <id>: send a test message through a channel and print the answer."""

from django.core.management.base import BaseCommand, CommandError

from notifications.models import Channel
from notifications.services import channel_test
from notifications.transports import KINDS

MAX_ID_DIGITS = 19


class Command(BaseCommand):
    help = (
        "Send a test message through a channel now and print what the destination answered. "
        "Exits non-zero when it was not delivered."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "channel_id", help="The channel's id (see the project's Channels page)."
        )

    def handle(self, *args, channel_id: str, **options) -> None:
        channel = find_channel(channel_id)
        result = channel_test(channel=channel)
        status = f"HTTP {result.status_code}" if result.status_code else "no HTTP status"
        kind = KINDS.get(channel.kind, channel.kind)
        label = f"{channel.name} ({kind}, project {channel.project.name})"
        if not result.ok:
            # result.error never contains the channel's secrets (the transports redact them).
            raise CommandError(
                f"{label} did not accept the test message ({status}): {result.error}"
            )
        answer = f": {result.answer}" if result.answer else "."
        self.stdout.write(
            self.style.SUCCESS(f"{label} accepted the test message ({status}){answer}")
        )


def find_channel(channel_id: str) -> Channel:
    text = str(channel_id).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_ID_DIGITS:
        raise CommandError(f"{channel_id!r} is not a channel id: give its number.")
    try:
        return Channel.objects.select_related("project").get(pk=int(text))
    except Channel.DoesNotExist:
        raise CommandError(f"No channel has the id {text}.") from None
