"""The database cache's table (uptime.settings._caches: used when CACHE_URL is unset).

Failure limits and API throttles count in the cache, so with no Redis it is a
table every web process shares. Made by name, whatever CACHES says while
migrating: the test suite runs with a memory cache, but the processes the
service suite starts (and an install that later drops CACHE_URL) use this
table. An existing table is left alone.
"""

from django.conf import settings
from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations


def cache_table_create(apps, schema_editor) -> None:
    alias = schema_editor.connection.alias
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(alias, settings.UPTIME_CACHE_TABLE, dry_run=False)


class Migration(migrations.Migration):
    dependencies = []

    operations = [migrations.RunPython(cache_table_create, migrations.RunPython.noop)]
