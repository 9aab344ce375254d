"""Keys made with DRF's authtoken keep working: each becomes a named, hashed ApiToken.

rest_framework.authtoken is no longer installed, so its table is read with SQL
when it exists (it is left in place, unused).
"""

import hashlib

from django.db import migrations


def copy_authtokens(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("teams", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id, created FROM authtoken_token")
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        ApiToken.objects.create(
            user_id=user_id,
            name="Token from before named tokens",
            prefix=key[:8],
            digest=hashlib.sha256(key.encode()).hexdigest(),
            created_at=created,
        )


class Migration(migrations.Migration):
    dependencies = [("teams", "0001_initial")]

    operations = [migrations.RunPython(copy_authtokens, migrations.RunPython.noop)]
