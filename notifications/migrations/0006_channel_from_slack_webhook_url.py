"""SLACK_WEBHOOK_URL becomes a Slack channel of the default project (README: Channels).

The default project is the first superuser's personal project, else the
oldest project. With no project yet, notifications.legacy gives the channel
to the first project made.
"""

from django.conf import settings
from django.db import migrations

NAME = "Slack (from SLACK_WEBHOOK_URL)"


def channel_from_env(apps, schema_editor) -> None:
    url = settings.SLACK_WEBHOOK_URL
    Channel = apps.get_model("notifications", "Channel")
    Project = apps.get_model("teams", "Project")
    if not url or Channel.objects.filter(from_env=True).exists():
        return
    owned = Project.objects.filter(
        personal_of__is_superuser=True, personal_of__is_active=True
    ).order_by("personal_of_id")
    project = owned.first() or Project.objects.order_by("id").first()
    if project is None:
        return
    Channel.objects.create(
        project=project,
        kind="slack",
        name=NAME,
        secrets={"url": url},
        from_env=True,
        events=["down", "up", "degraded", "cert_expiring", "reminder"],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0005_outbox_deleted_with_their_site"),
        ("teams", "0002_api_tokens_from_authtoken"),
    ]

    operations = [migrations.RunPython(channel_from_env, migrations.RunPython.noop)]
