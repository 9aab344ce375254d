"""Sites belong to projects; a URL is unique per project, not per installation.

Every existing account gets its personal project; the existing sites move into
the first superuser's (or, with no superuser, the first account's). With no
account at all they wait in a project without members, which the first
account adopts (teams.services.personal_project_ensure).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def give_sites_a_project(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Project = apps.get_model("teams", "Project")
    Membership = apps.get_model("teams", "Membership")
    Site = apps.get_model("sites", "Site")
    personal = {}
    for user in User.objects.order_by("id"):
        project = Project.objects.create(name=f"{user.username}'s project"[:200], personal_of=user)
        Membership.objects.create(user=user, project=project, role="owner")
        personal[user.pk] = project
    if not Site.objects.exists():
        return
    first = User.objects.filter(is_superuser=True).order_by("id").first()
    first = first or User.objects.order_by("id").first()
    home = personal[first.pk] if first else Project.objects.create(name="Default")
    Site.objects.update(project=home)


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0003_site_claimed_at"),
        ("teams", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="site",
            name="project",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="sites",
                to="teams.project",
            ),
        ),
        migrations.RunPython(give_sites_a_project, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="site",
            name="project",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="sites",
                to="teams.project",
            ),
        ),
        migrations.AlterField(
            model_name="site",
            name="url",
            field=models.CharField(max_length=2000),
        ),
        migrations.AddConstraint(
            model_name="site",
            constraint=models.UniqueConstraint(
                fields=("project", "url"), name="site_url_once_per_project"
            ),
        ),
    ]
