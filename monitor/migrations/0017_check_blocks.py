"""CheckBlock: an hour of a site's checks from one location, packed into one row (monitor.packing).

The columns widest first (PostgreSQL pads none), the site's foreign key ON
DELETE CASCADE on PostgreSQL (as monitor 0006 made Check's), and an index
on `hour` for pruning by age per database: BRIN on PostgreSQL (blocks are
written hour by hour), b-tree on SQLite.
"""

import django.db.models.deletion
from django.db import migrations, models

import monitor.models


def create_time_index_and_cascade(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.execute("CREATE INDEX checkblock_hour ON monitor_checkblock (hour)")
        return
    schema_editor.execute("CREATE INDEX checkblock_hour ON monitor_checkblock USING brin (hour)")
    # The model says db_constraint=False: Django adds its own constraints after
    # the last operation, too late to give this one its ON DELETE CASCADE.
    schema_editor.execute(
        "ALTER TABLE monitor_checkblock ADD CONSTRAINT monitor_checkblock_site_id_fk "
        "FOREIGN KEY (site_id) REFERENCES sites_site (id) "
        "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
    )


def drop_time_index(apps, schema_editor) -> None:
    schema_editor.execute("DROP INDEX IF EXISTS checkblock_hour")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE monitor_checkblock DROP CONSTRAINT IF EXISTS monitor_checkblock_site_id_fk"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("monitor", "0016_check_composite_key"),
        ("sites", "0010_fewer_index_writes_per_claim"),
    ]

    operations = [
        migrations.CreateModel(
            name="CheckBlock",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "site_id",
                        "location_id",
                        "hour",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("hour", models.DateTimeField()),
                (
                    "site",
                    monitor.models.SiteIdField(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="sites.site",
                    ),
                ),
                (
                    "location",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="monitor.location",
                    ),
                ),
                ("count", models.PositiveSmallIntegerField()),
                ("data", models.BinaryField()),
            ],
        ),
        migrations.RunPython(create_time_index_and_cascade, drop_time_index),
    ]
