"""These rows go with their site, in the database (PostgreSQL), as in monitor 0006.

sites.services.site_delete deletes a site in SQL; on SQLite it deletes these
rows itself. A migration of its own: the schema editor adds a new table's
foreign keys at the end of the migration that creates it.
"""

import importlib

from django.db import migrations

set_on_delete = importlib.import_module(
    "monitor.migrations.0006_site_history_deleted_by_the_database"
).set_on_delete

FOREIGN_KEYS = [
    ("monitor_sitelocation", "site_id", "sites_site", "CASCADE"),
    ("sites_site_locations", "site_id", "sites_site", "CASCADE"),
]


def cascade_in_the_database(apps, schema_editor) -> None:
    set_on_delete(schema_editor, FOREIGN_KEYS)


class Migration(migrations.Migration):
    atomic = False  # as in monitor 0006: writers wait for the swap only

    dependencies = [
        ("monitor", "0014_locations"),
        ("sites", "0008_site_locations_and_quorum"),
    ]

    operations = [migrations.RunPython(cascade_in_the_database, migrations.RunPython.noop)]
