"""System checks for settings Django's own `check --deploy` does not know about."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def private_targets_acknowledged(app_configs, **kwargs) -> list[Error]:
    """Refuse to call a production setup safe while it may probe its own network.

    UPTIME_ALLOW_PRIVATE_TARGETS lets every account make the server request
    loopback and private addresses (its database, cloud metadata …). That is
    right for an intranet monitor and dangerous by accident, so production
    must say it on purpose.
    """
    if settings.DEBUG or not settings.UPTIME_ALLOW_PRIVATE_TARGETS:
        return []
    if settings.UPTIME_ALLOW_PRIVATE_TARGETS_ACKNOWLEDGED:
        return []
    return [
        Error(
            "UPTIME_ALLOW_PRIVATE_TARGETS is on with DEBUG off: any account can make "
            "this server request loopback, private and link-local addresses.",
            hint=(
                "Turn UPTIME_ALLOW_PRIVATE_TARGETS off, or set "
                "UPTIME_ALLOW_PRIVATE_TARGETS_ACKNOWLEDGED=1 if monitoring your "
                "private network is intended."
            ),
            id="uptime.E001",
        )
    ]
