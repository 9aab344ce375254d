"""The database cache's table (uptime.settings._caches: used when CACHE_URL is unset).

Failure limits and API throttles count in the cache, so with no Redis it is a
table every web process shares. createcachetable does nothing for other
backends and skips a table that exists; after dropping CACHE_URL on an
existing install, run `manage.py createcachetable` once.
"""

from django.core.management import call_command
from django.db import migrations


def cache_table_create(apps, schema_editor) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = []

    operations = [migrations.RunPython(cache_table_create, migrations.RunPython.noop)]
