"""Finding 6: the data directory, the SQLite file and the broker folder are owner-only."""

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Opens the embedded database in WAL mode and reports the modes while it is open.
REPORT = """
import django, os, stat
from pathlib import Path
django.setup()
from django.conf import settings
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS t (x integer)")
    cursor.execute("INSERT INTO t VALUES (1)")
data = settings.DATA_DIR
for path in [data, data / "uptime.sqlite3", data / "uptime.sqlite3-wal",
             data / "uptime.sqlite3-shm", data / "broker", data / "broker" / "queue",
             data / "secret_key"]:
    print(path.name, oct(stat.S_IMODE(path.stat().st_mode)))
"""


def modes(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="uptime.settings",
        UPTIME_ENV_FILE="",
        UPTIME_DATA_DIR=str(data_dir),
    )
    done = subprocess.run(
        [sys.executable, "-c", REPORT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return dict(line.split() for line in done.stdout.splitlines())


OWNER_ONLY = {
    "data": "0o700",
    "uptime.sqlite3": "0o600",
    "uptime.sqlite3-wal": "0o600",
    "uptime.sqlite3-shm": "0o600",
    "broker": "0o700",
    "queue": "0o700",
    "secret_key": "0o600",
}


def test_a_fresh_data_directory_and_its_files_are_owner_only(tmp_path):
    os.umask(old := os.umask(0o022))  # the usual umask, whatever the runner's
    try:
        assert modes(tmp_path / "data") == OWNER_ONLY
    finally:
        os.umask(old)


def test_an_older_world_readable_install_is_tightened(tmp_path):
    data = tmp_path / "data"
    (data / "broker" / "queue").mkdir(parents=True)
    (data / "uptime.sqlite3").write_bytes(b"")
    for path in (data, data / "broker", data / "broker" / "queue"):
        path.chmod(0o755)
    (data / "uptime.sqlite3").chmod(0o644)

    assert modes(data) == OWNER_ONLY
    assert not stat.S_IMODE(data.stat().st_mode) & 0o077
