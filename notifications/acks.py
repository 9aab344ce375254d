"""Acknowledging a down monitor: someone is on it (placeholder for the ack link)."""

from django.conf import settings
from django.core import signing

SALT = "uptime.ack"


def ack_link(transition) -> str:
    token = signing.dumps({"t": transition.pk}, salt=SALT)
    return f"{settings.UPTIME_BASE_URL.rstrip('/')}/ack/{token}"
