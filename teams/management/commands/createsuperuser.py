"""Django's createsuperuser, validating the password with --noinput too.

Django skips the password validators when the password comes from
DJANGO_SUPERUSER_PASSWORD, so `--noinput` accepted "a" for the most powerful
account there is. (teams is listed before django.contrib.auth in
INSTALLED_APPS so that this command is the one `manage.py` finds.)
"""

import os

from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.password_validation import validate_password
from django.core import exceptions
from django.core.management.base import CommandError


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not options["interactive"] and password is not None:
            field = self.UserModel.USERNAME_FIELD
            username = options[field] or os.environ.get(f"DJANGO_SUPERUSER_{field.upper()}")
            email = options.get("email") or os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
            candidate = self.UserModel(**{field: username or ""}, email=email)
            try:
                validate_password(password, candidate)
            except exceptions.ValidationError as exc:
                raise CommandError(
                    "DJANGO_SUPERUSER_PASSWORD is refused: " + " ".join(exc.messages)
                ) from None
        return super().handle(*args, **options)
