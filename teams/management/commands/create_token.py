"""`manage.py create_token USERNAME`: make an API token and print its key."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from teams.serializers import MAX_TOKEN_DAYS
from teams.tokens import token_create


class Command(BaseCommand):
    help = (
        "Make an API token for a user and print its key, alone on the last line "
        "(shown once: only its hash is stored). Replaces drf_create_token."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="manage.py create_token", help="The token's name.")
        parser.add_argument(
            "--read-only", action="store_true", help="The token may read but not change anything."
        )
        parser.add_argument(
            "--expires-in-days",
            type=int,
            metavar="N",
            help=f"The token stops working after N days (1 to {MAX_TOKEN_DAYS}).",
        )

    def handle(
        self,
        *args,
        username: str,
        name: str,
        read_only: bool,
        expires_in_days: int | None,
        **options,
    ) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is named {username!r}.")
        if not user.is_active:
            raise CommandError(f"{username!r} is inactive: a token of theirs would not work.")
        expires_at = None
        if expires_in_days is not None:
            if not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
                raise CommandError(f"--expires-in-days must be 1 to {MAX_TOKEN_DAYS}.")
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        if not name.strip():
            raise CommandError("--name must not be blank.")
        token, key = token_create(
            user=user,
            name=name,
            read_only=read_only,
            expires_at=expires_at,
            via="manage.py create_token",
        )
        scope = "read-only" if read_only else "read-write"
        until = f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""
        self.stderr.write(f"Token {token.name!r} ({scope}{until}) for {username}; its key:")
        self.stdout.write(key)
