"""`manage.py backfill_rollups`: rebuild past days' rollups from the raw checks."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from monitor.history import backfill_rollups


class Command(BaseCommand):
    help = (
        "Rebuild the hourly and daily rollups of the last N whole UTC days (not "
        "today, which the recorder is adding to) from the raw checks still kept. "
        "Run once after upgrading to a version with rollups."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=settings.UPTIME_CHECK_RETENTION_DAYS,
            help="How many days back (default: UPTIME_CHECK_RETENTION_DAYS).",
        )

    def handle(self, *args, days: int, **options) -> None:
        today = timezone.now()
        added = backfill_rollups(since=today - timedelta(days=days), until=today)
        self.stdout.write(f"Rebuilt {days} day(s) of rollups from {added} check(s).")
