"""Settings read .env (UPTIME_ENV_FILE), so manage.py, celery and gunicorn see
what honcho gives `make run`; the environment wins, and the suite never reads it."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRINT = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.UPTIME_DISPATCH_EVERY, settings.UPTIME_SWEEP_EVERY)"
)


def settings_seen(tmp_path: Path, settings_module: str, **env: str) -> str:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("UPTIME_")}
    full_env.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        UPTIME_DATA_DIR=str(tmp_path / "data"),
        SECRET_KEY="env-file-test",
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-c", PRINT],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def env_file(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    path.write_text("UPTIME_DISPATCH_EVERY=7\nUPTIME_SWEEP_EVERY=30\n")
    return path


def test_settings_read_the_env_file_but_the_environment_wins(tmp_path):
    seen = settings_seen(
        tmp_path, "uptime.settings", UPTIME_ENV_FILE=str(env_file(tmp_path)), UPTIME_SWEEP_EVERY="9"
    )

    assert seen == "7 9"


def test_an_empty_env_file_setting_reads_no_file(tmp_path):
    env_file(tmp_path)

    assert settings_seen(tmp_path, "uptime.settings", UPTIME_ENV_FILE="") == "1 60"


def test_the_test_settings_never_read_an_env_file(tmp_path):
    seen = settings_seen(tmp_path, "tests.settings", UPTIME_ENV_FILE=str(env_file(tmp_path)))

    assert seen == "1 60"
