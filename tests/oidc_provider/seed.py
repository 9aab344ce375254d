"""Migrate the provider's database and register one user and one confidential client.

Run as: python -m tests.oidc_provider.seed <redirect_uri> <client_id> <client_secret>
"""

import sys

import django
from django.core.management import call_command


def main(redirect_uri: str, client_id: str, client_secret: str) -> None:
    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model
    from oauth2_provider.models import Application

    get_user_model().objects.create_user(
        username="erin", email="erin@example.invalid", password="provider-pass-31"
    )
    Application.objects.create(
        name="Uptime",
        client_id=client_id,
        client_secret=client_secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uri,
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=False,
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
