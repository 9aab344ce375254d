"""A site's checks, transitions and rollups are deleted by the database, not by Django.

Django emulates on_delete in Python: deleting a site loaded every one of its
checks (Transition.check_result's SET_NULL forces that) and deleted them 100
at a time. On PostgreSQL the foreign keys to a site now say ON DELETE
CASCADE and the models say DO_NOTHING, so Django leaves the work to the
database. SQLite can only change a foreign key by rebuilding the table;
there sites.services.site_delete deletes the rows itself.

Transition.check_result loses its database constraint: its trigger ran once
per deleted check, nine tenths of the time a month of checks took to delete.
"""

import django.db.models.deletion
from django.db import migrations, models

# (table, column, referenced table, action)
FOREIGN_KEYS = [
    ("monitor_check", "site_id", "sites_site", "CASCADE"),
    ("monitor_transition", "site_id", "sites_site", "CASCADE"),
    ("monitor_checkrollup", "site_id", "sites_site", "CASCADE"),
]


def set_on_delete(schema_editor, foreign_keys) -> None:
    """Recreate each foreign key with its ON DELETE action (PostgreSQL only)."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    q = schema_editor.quote_name
    for table, column, target, action in foreign_keys:
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, table)
        [name] = [n for n, c in constraints.items() if c["foreign_key"] and c["columns"] == [column]]
        # NOT VALID, then VALIDATE in its own statement: the table is locked
        # against writes only for the swap, not for the scan of every row.
        schema_editor.execute(
            f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}, "
            f"ADD CONSTRAINT {q(name)} FOREIGN KEY ({q(column)}) REFERENCES {q(target)} (id) "
            f"ON DELETE {action} DEFERRABLE INITIALLY DEFERRED NOT VALID"
        )
        schema_editor.execute(f"ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)}")


def cascade_in_the_database(apps, schema_editor) -> None:
    set_on_delete(schema_editor, FOREIGN_KEYS)


def cascade_in_django(apps, schema_editor) -> None:
    set_on_delete(schema_editor, [(*key[:3], "NO ACTION") for key in FOREIGN_KEYS])


class Migration(migrations.Migration):
    # Each ALTER commits on its own, so writers wait for the swap only.
    atomic = False

    dependencies = [
        ("monitor", "0005_connectivity_incident"),
        ("sites", "0003_site_claimed_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="check",
            name="site",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="checks",
                to="sites.site",
            ),
        ),
        migrations.AlterField(
            model_name="checkrollup",
            name="site",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="rollups",
                to="sites.site",
            ),
        ),
        migrations.AlterField(
            model_name="transition",
            name="site",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="transitions",
                to="sites.site",
            ),
        ),
        migrations.AlterField(
            model_name="transition",
            name="check_result",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="monitor.check",
            ),
        ),
        migrations.RunPython(cascade_in_the_database, cascade_in_django),
    ]
