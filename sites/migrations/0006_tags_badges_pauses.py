import django.db.models.deletion
from django.db import migrations, models

import sites.models


def give_each_site_a_badge_key(apps, schema_editor) -> None:
    Site = apps.get_model("sites", "Site")
    sites_ = list(Site.objects.only("id"))
    for site in sites_:
        site.badge_key = sites.models.new_badge_key()
    Site.objects.bulk_update(sites_, ["badge_key"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0005_monitor_kinds"),
        ("teams", "0002_api_tokens_from_authtoken"),
    ]

    operations = [
        migrations.CreateModel(
            name="Tag",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=50)),
                ("color", models.CharField(default="#64748b", max_length=7)),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tags",
                        to="teams.project",
                    ),
                ),
            ],
            options={
                "ordering": ["name", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("project", "name"), name="tag_name_once_per_project")
                ],
            },
        ),
        migrations.AddField(
            model_name="site",
            name="tags",
            field=models.ManyToManyField(blank=True, related_name="sites", to="sites.tag"),
        ),
        migrations.AddField(
            model_name="site",
            name="paused_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        # Each existing site its own key, then unique (as ping_token in 0005).
        migrations.AddField(
            model_name="site",
            name="badge_key",
            field=models.CharField(default="", editable=False, max_length=32),
        ),
        migrations.RunPython(give_each_site_a_badge_key, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="site",
            name="badge_key",
            field=models.CharField(
                default=sites.models.new_badge_key, editable=False, max_length=32, unique=True
            ),
        ),
    ]
