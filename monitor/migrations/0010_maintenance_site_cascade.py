"""Deleting a site deletes its rows in maintenance windows, in the database (PostgreSQL).

In a migration of its own: the foreign key exists only once 0009 has run
(the schema editor adds foreign keys at the end of a migration).
"""

from django.db import migrations

SITES_TABLE = "monitor_maintenancewindow_sites"


def site_deletes_cascade(apps, schema_editor) -> None:
    """A window's row for a site goes with the site, in the database (PostgreSQL).

    sites.services.site_delete deletes a site in SQL, as migration 0006
    explains; on SQLite it deletes these rows itself.
    """
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    q = schema_editor.quote_name
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, SITES_TABLE)
    [name] = [n for n, c in constraints.items() if c["foreign_key"] and c["columns"] == ["site_id"]]
    schema_editor.execute(
        f"ALTER TABLE {q(SITES_TABLE)} DROP CONSTRAINT {q(name)}, "
        f"ADD CONSTRAINT {q(name)} FOREIGN KEY (site_id) REFERENCES sites_site (id) "
        "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("monitor", "0009_maintenance_window"),
    ]

    operations = [
        migrations.RunPython(site_deletes_cascade, migrations.RunPython.noop),
    ]
