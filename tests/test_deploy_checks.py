"""`manage.py check --deploy`: passes with the README's production settings,
and refuses private targets in production unless acknowledged."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from uptime.checks import private_targets_acknowledged

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.UPTIME_ALLOW_PRIVATE_TARGETS = True
    settings.UPTIME_ALLOW_PRIVATE_TARGETS_ACKNOWLEDGED = False
    return settings


def test_private_targets_in_production_are_an_error_naming_both_variables(production):
    [error] = private_targets_acknowledged(None)
    assert error.id == "uptime.E001"
    assert error.is_serious()
    text = f"{error.msg} {error.hint}"
    assert "UPTIME_ALLOW_PRIVATE_TARGETS " in text
    assert "UPTIME_ALLOW_PRIVATE_TARGETS_ACKNOWLEDGED=1" in text


def test_acknowledged_private_targets_pass(production):
    production.UPTIME_ALLOW_PRIVATE_TARGETS_ACKNOWLEDGED = True
    assert private_targets_acknowledged(None) == []


def test_private_targets_off_pass(production):
    production.UPTIME_ALLOW_PRIVATE_TARGETS = False
    assert private_targets_acknowledged(None) == []


def test_private_targets_with_debug_on_pass(production):
    production.DEBUG = True
    assert private_targets_acknowledged(None) == []


def test_check_deploy_runs_the_private_targets_check(production):
    with pytest.raises(SystemCheckError, match="uptime.E001"):
        call_command("check", "--deploy", "--tag", "security")


def test_a_plain_check_does_not_run_it(production):
    call_command("check", "--tag", "security")


def manage(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh process with only the given settings in its environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("UPTIME_", "DJANGO_"))}
    clean.update(
        {
            "DJANGO_SETTINGS_MODULE": "uptime.settings",
            "UPTIME_DATA_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            **env,
        }
    )
    for name in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CACHE_URL"):
        if name not in env:
            clean.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "uptime.example.com",
    "UPTIME_HTTPS": "1",
}


def test_check_deploy_passes_with_the_readme_production_settings(tmp_path):
    result = manage("check", "--deploy", tmp_path=tmp_path, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    # Preloading HSTS is left to the operator (README "Production settings").
    issues = [line for line in result.stderr.splitlines() if line.startswith("?: (")]
    assert [line.split(")")[0] for line in issues] == ["?: (security.W021"]


def test_check_deploy_fails_on_unacknowledged_private_targets(tmp_path):
    env = {**PRODUCTION, "UPTIME_ALLOW_PRIVATE_TARGETS": "1"}
    result = manage("check", "--deploy", tmp_path=tmp_path, **env)
    assert result.returncode == 1
    assert "uptime.E001" in result.stderr
    assert "UPTIME_ALLOW_PRIVATE_TARGETS_ACKNOWLEDGED" in result.stderr


def test_without_uptime_https_the_defaults_serve_plain_http(tmp_path):
    code = (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_PROXY_SSL_HEADER)"
    )
    result = manage("shell", "--no-imports", "-c", code, tmp_path=tmp_path)
    assert result.stdout.split() == ["False", "False", "False", "0", "None"], result.stderr


def test_uptime_https_turns_the_secure_group_on_at_once(tmp_path):
    code = (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS)"
    )
    result = manage("shell", "--no-imports", "-c", code, tmp_path=tmp_path, UPTIME_HTTPS="1")
    assert result.stdout.split() == ["True", "True", "True", "31536000", "True"], result.stderr


def test_the_proxy_header_is_trusted_only_behind_a_declared_proxy(tmp_path):
    code = "from django.conf import settings as s; print(s.SECURE_PROXY_SSL_HEADER)"
    result = manage("shell", "--no-imports", "-c", code, tmp_path=tmp_path, UPTIME_NUM_PROXIES="1")
    assert result.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')", result.stderr
