"""A site's messages, acknowledgements and channel choices go with it, in the database.

As for the rest of a site's history (monitor 0006): sites.services.site_delete
deletes a site in SQL, and on PostgreSQL the foreign keys cascade. In a
migration of its own because the schema editor adds a new table's foreign
keys at the end of the migration that creates it (0004), and because 0004's
change to the attempts' transition key recreated that key without its cascade.
"""

import importlib

from django.db import migrations

set_on_delete = importlib.import_module(
    "monitor.migrations.0006_site_history_deleted_by_the_database"
).set_on_delete

FOREIGN_KEYS = [
    ("notifications_notificationattempt", "transition_id", "monitor_transition", "CASCADE"),
    ("notifications_notificationattempt", "notification_id", "notifications_notification", "CASCADE"),
    ("notifications_notification", "site_id", "sites_site", "CASCADE"),
    ("notifications_notification", "transition_id", "monitor_transition", "CASCADE"),
    ("notifications_acknowledgement", "site_id", "sites_site", "CASCADE"),
    ("notifications_acknowledgement", "transition_id", "monitor_transition", "CASCADE"),
    ("notifications_channel_sites", "site_id", "sites_site", "CASCADE"),
]


def cascade_in_the_database(apps, schema_editor) -> None:
    set_on_delete(schema_editor, FOREIGN_KEYS)


class Migration(migrations.Migration):
    atomic = False  # as in monitor 0006: writers wait for the swap only

    dependencies = [("notifications", "0004_channels_and_outbox")]

    operations = [migrations.RunPython(cascade_in_the_database, migrations.RunPython.noop)]
