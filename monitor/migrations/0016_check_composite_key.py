"""Check loses its id: the key is (site, location, checked_at), and a check shrinks by a third.

Django 5.2 cannot migrate a primary key to a composite one, so the table is
rebuilt here in SQL per database (create, copy, swap) and the model state
follows in SeparateDatabaseAndState. The new table lists its columns widest
first (PostgreSQL pads none), site_id as a 4-byte integer (monitor.models
.SiteIdField), and its only b-tree is the key. Rows go in in time order, so
the BRIN index on checked_at (monitor 0004) still prunes by age; on
PostgreSQL the site's foreign key says ON DELETE CASCADE again (monitor 0006).

Two checks of one site from one location at the same instant were possible
with an id; the copy keeps the later one (by id) and drops the other.

A ForeignKey cannot point at a composite key (Django 5.2): a transition
keeps the facts of its check instead, copied here from the check it names.

Not reversible: the ids are gone.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Exists, OuterRef, Subquery

import monitor.models

FACTS = ["checked_at", "status_code", "response_ms", "error_kind", "error_message"]
# The new table's columns, in their physical order: 8-byte, 4, 2, then 1-byte ones.
COLUMNS = [
    "checked_at",
    "site_id",
    "response_ms",
    "status_code",
    "location_id",
    "up",
    "error_kind",
    "error_message",
]

POSTGRES_TABLE = """
CREATE TABLE monitor_check_new (
    checked_at timestamp with time zone NOT NULL,
    site_id integer NOT NULL,
    response_ms integer NULL CONSTRAINT monitor_check_response_ms_check CHECK (response_ms >= 0),
    status_code smallint NULL CONSTRAINT monitor_check_status_code_check CHECK (status_code >= 0),
    location_id smallint DEFAULT 1 NOT NULL,
    up boolean NOT NULL,
    error_kind varchar(32) NOT NULL,
    error_message varchar(300) NOT NULL
)
"""
SQLITE_TABLE = """
CREATE TABLE monitor_check_new (
    "checked_at" datetime NOT NULL,
    "site_id" integer NOT NULL REFERENCES "sites_site" ("id") DEFERRABLE INITIALLY DEFERRED,
    "response_ms" integer unsigned NULL CHECK ("response_ms" >= 0),
    "status_code" smallint unsigned NULL CHECK ("status_code" >= 0),
    "location_id" smallint DEFAULT 1 NOT NULL,
    "up" bool NOT NULL,
    "error_kind" varchar(32) NOT NULL,
    "error_message" varchar(300) NOT NULL,
    PRIMARY KEY ("site_id", "location_id", "checked_at")
)
"""


def copy_facts_to_transitions(apps, schema_editor) -> None:
    Check = apps.get_model("monitor", "Check")
    Transition = apps.get_model("monitor", "Transition")
    check = Check.objects.filter(id=OuterRef("check_result_id"))
    # Not for a check the pruner removed (the id dangles: no constraint): no facts.
    Transition.objects.filter(Exists(check)).update(
        **{fact: Subquery(check.values(fact)[:1]) for fact in FACTS}
    )


def rebuild_check_table(apps, schema_editor) -> None:
    columns = ", ".join(COLUMNS)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_TABLE)
        # The latest id of each key, then in time order for the BRIN index.
        schema_editor.execute(
            f"INSERT INTO monitor_check_new ({columns}) SELECT {columns} FROM ("  # noqa: S608
            f"SELECT DISTINCT ON (site_id, location_id, checked_at) {columns} "
            "FROM monitor_check ORDER BY site_id, location_id, checked_at, id DESC"
            ") AS latest ORDER BY checked_at"
        )
        schema_editor.execute("DROP TABLE monitor_check")
        schema_editor.execute("ALTER TABLE monitor_check_new RENAME TO monitor_check")
        # Full leaf pages: a check is never updated, and a site's checks from
        # one location arrive in time order, so nbtree splits a page after
        # its newest entry and the page it leaves stays as full as this says.
        schema_editor.execute(
            "ALTER TABLE monitor_check ADD CONSTRAINT monitor_check_pkey "
            "PRIMARY KEY (site_id, location_id, checked_at) WITH (fillfactor = 100)"
        )
        fk_name = schema_editor._create_index_name(
            "monitor_check", ["site_id"], suffix="_fk_sites_site_id"
        )
        schema_editor.execute(
            f"ALTER TABLE monitor_check ADD CONSTRAINT {fk_name} FOREIGN KEY (site_id) "
            "REFERENCES sites_site (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
        )
        schema_editor.execute(
            "CREATE INDEX check_time_brin ON monitor_check USING brin (checked_at)"
        )
    else:
        schema_editor.execute(SQLITE_TABLE)
        # Ascending ids: of two checks with one key, the later one stays.
        schema_editor.execute(
            f"INSERT OR REPLACE INTO monitor_check_new ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM monitor_check ORDER BY checked_at, id"
        )
        schema_editor.execute("DROP TABLE monitor_check")
        schema_editor.execute("ALTER TABLE monitor_check_new RENAME TO monitor_check")
        schema_editor.execute("CREATE INDEX check_time_brin ON monitor_check (checked_at)")


class Migration(migrations.Migration):
    dependencies = [
        ("monitor", "0015_site_locations_deleted_with_their_site"),
        ("sites", "0008_site_locations_and_quorum"),
    ]

    operations = [
        migrations.AddField(
            model_name="transition",
            name="checked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="transition",
            name="status_code",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="transition",
            name="response_ms",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="transition",
            name="error_kind",
            field=models.CharField(
                blank=True,
                choices=[
                    ("dns", "DNS lookup failed"),
                    ("connect", "Connection failed"),
                    ("timeout", "Timed out"),
                    ("tls", "TLS error"),
                    ("http_status", "HTTP error status"),
                    ("redirects", "Too many redirects"),
                    ("blocked", "Address not allowed"),
                    ("invalid_url", "Invalid URL"),
                    ("protocol", "Malformed response"),
                    ("assertion", "Unexpected answer"),
                    ("dns_answer", "Unexpected DNS answer"),
                    ("missed", "No heartbeat in time"),
                    ("job_failed", "The job reported a failure"),
                    ("slow", "Slower than allowed"),
                    ("cert_expiring", "Certificate expires soon"),
                ],
                max_length=32,
            ),
        ),
        migrations.AddField(
            model_name="transition",
            name="error_message",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.RunPython(copy_facts_to_transitions),
        migrations.RemoveField(model_name="transition", name="check_result"),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(rebuild_check_table)],
            state_operations=[
                migrations.AlterModelOptions(name="check", options={"ordering": ["-checked_at"]}),
                migrations.RemoveIndex(model_name="check", name="check_site_recent_idx"),
                migrations.RemoveField(model_name="check", name="id"),
                migrations.AddField(
                    model_name="check",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "site_id",
                        "location_id",
                        "checked_at",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                migrations.AlterField(
                    model_name="check",
                    name="site",
                    field=monitor.models.SiteIdField(
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="checks",
                        to="sites.site",
                    ),
                ),
            ],
        ),
    ]
