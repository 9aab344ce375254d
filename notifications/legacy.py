"""SLACK_WEBHOOK_URL, from before channels: it becomes a Slack channel, once.

The migration that introduced channels made it a default channel of the
default project (the first superuser's personal project, else the oldest
project). On a database with no project yet, the first project made gets it.
After that the channel is edited in the app; the variable is read no more.
"""

from django.conf import settings

from notifications.models import Channel
from teams.models import Project

NAME = "Slack (from SLACK_WEBHOOK_URL)"


def env_channel_ensure(*, project: Project | None = None) -> Channel | None:
    """Make the channel for SLACK_WEBHOOK_URL unless it exists; None if nothing was made."""
    url = settings.SLACK_WEBHOOK_URL
    if not url or Channel.objects.filter(from_env=True).exists():
        return None
    project = project or default_project()
    if project is None:
        return None
    return Channel.objects.create(
        project=project, kind="slack", name=NAME, secrets={"url": url}, from_env=True
    )


def default_project() -> Project | None:
    owned = Project.objects.filter(
        personal_of__is_superuser=True, personal_of__is_active=True
    ).order_by("personal_of_id")
    return owned.first() or Project.objects.order_by("id").first()
