"""A small Uptime Kuma database for the import tests.

The monitor table has Uptime Kuma's real column names, types and defaults
(db/knex_init_db.js and later migrations in louislam/uptime-kuma): those the
importer reads and a few it does not, so a row names only what it changes.
"""

import sqlite3
from pathlib import Path

MONITOR_TABLE = """
CREATE TABLE monitor (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(150),
    active BOOLEAN NOT NULL DEFAULT 1,
    user_id INTEGER,
    interval INTEGER NOT NULL DEFAULT 20,
    url TEXT,
    type VARCHAR(20),
    weight INTEGER DEFAULT 2000,
    hostname VARCHAR(255),
    port INTEGER,
    created_date DATETIME NOT NULL DEFAULT (DATETIME('now')),
    keyword VARCHAR(255),
    maxretries INTEGER NOT NULL DEFAULT 0,
    ignore_tls BOOLEAN NOT NULL DEFAULT 0,
    upside_down BOOLEAN NOT NULL DEFAULT 0,
    maxredirects INTEGER NOT NULL DEFAULT 10,
    accepted_statuscodes_json TEXT NOT NULL DEFAULT '["200-299"]',
    dns_resolve_type VARCHAR(5),
    dns_resolve_server VARCHAR(255),
    dns_last_result VARCHAR(255),
    retry_interval INTEGER NOT NULL DEFAULT 0,
    push_token VARCHAR(32) DEFAULT NULL,
    method TEXT NOT NULL DEFAULT 'GET',
    body TEXT DEFAULT NULL,
    headers TEXT DEFAULT NULL,
    basic_auth_user TEXT DEFAULT NULL,
    basic_auth_pass TEXT DEFAULT NULL,
    auth_method VARCHAR(250),
    docker_container VARCHAR(255),
    mqtt_topic TEXT,
    http_body_encoding VARCHAR(25),
    description TEXT DEFAULT NULL,
    parent INTEGER,
    invert_keyword BOOLEAN NOT NULL DEFAULT 0,
    json_path TEXT,
    expected_value VARCHAR(255),
    json_path_operator VARCHAR(255),
    timeout DOUBLE NOT NULL DEFAULT 0,
    conditions TEXT NOT NULL DEFAULT '[]'
)
"""


def kuma_db(directory: Path, *rows: dict, name: str = "kuma.db") -> Path:
    """A kuma.db holding these monitor rows (column → value)."""
    path = directory / name
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(MONITOR_TABLE)
        connection.execute("CREATE TABLE heartbeat (id INTEGER PRIMARY KEY, monitor_id INTEGER)")
        for row in rows:
            columns = ", ".join(f'"{column}"' for column in row)
            marks = ", ".join("?" for _ in row)
            connection.execute(
                f"INSERT INTO monitor ({columns}) VALUES ({marks})",  # noqa: S608 - test data
                list(row.values()),
            )
    connection.close()
    return path
