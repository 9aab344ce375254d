"""A transition's delivery attempts go with it when the database deletes it.

Since monitor 0006 PostgreSQL deletes a site's transitions itself (ON DELETE
CASCADE); their attempts must follow in the same statement. The model keeps
CASCADE, so deleting a single transition through Django still works on SQLite.
"""

from importlib import import_module

from django.db import migrations

set_on_delete = import_module(
    "monitor.migrations.0006_site_history_deleted_by_the_database"
).set_on_delete

FOREIGN_KEYS = [("notifications_notificationattempt", "transition_id", "monitor_transition")]


def cascade_in_the_database(apps, schema_editor) -> None:
    set_on_delete(schema_editor, [(*key, "CASCADE") for key in FOREIGN_KEYS])


def cascade_in_django(apps, schema_editor) -> None:
    set_on_delete(schema_editor, [(*key, "NO ACTION") for key in FOREIGN_KEYS])


class Migration(migrations.Migration):
    atomic = False  # as in monitor 0006: writers wait for the swap only

    dependencies = [
        ("notifications", "0002_webhook_pacing"),
        ("monitor", "0006_site_history_deleted_by_the_database"),
    ]

    operations = [migrations.RunPython(cascade_in_the_database, cascade_in_django)]
