"""Room on each page of sites_site for the recorder's update of a row.

Each check updates its site's row twice: the dispatcher's claim (which
moves next_check_at, an indexed column, so every index gets an entry) and
the recorder's (which changes no indexed column as a rule). The second can
be a heap-only update, writing no index at all, only when the row's page
has room for the new version: at the default fillfactor of 100 it rarely
had (8 % of updates). PostgreSQL only; SQLite has no such setting.
"""

from django.db import migrations

FORWARD = "ALTER TABLE sites_site SET (fillfactor = 70)"
BACKWARD = "ALTER TABLE sites_site RESET (fillfactor)"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("sites", "0008_site_locations_and_quorum")]

    operations = [migrations.RunPython(forward, backward)]
