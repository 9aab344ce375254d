"""A site's gaps and its place in maintenance windows go with the site, in the database.

As for the rest of a site's history (migration 0006): sites.services.site_delete
deletes a site in SQL, and on PostgreSQL the foreign keys to it cascade. SQLite
keeps its keys as they are; there site_delete deletes these rows itself.

In a migration of its own: the schema editor adds a new table's foreign keys
at the end of the migration that creates it (0008, 0009), so only now do they
exist to be changed.
"""

import importlib

from django.db import migrations

set_on_delete = importlib.import_module(
    "monitor.migrations.0006_site_history_deleted_by_the_database"
).set_on_delete

FOREIGN_KEYS = [
    ("monitor_monitoringgap", "site_id", "sites_site", "CASCADE"),
    ("monitor_maintenancewindow_sites", "site_id", "sites_site", "CASCADE"),
]


def cascade_in_the_database(apps, schema_editor) -> None:
    set_on_delete(schema_editor, FOREIGN_KEYS)


class Migration(migrations.Migration):
    dependencies = [
        ("monitor", "0009_maintenance_window"),
    ]

    operations = [
        migrations.RunPython(cascade_in_the_database, migrations.RunPython.noop),
    ]
