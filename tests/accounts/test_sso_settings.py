"""UPTIME_OIDC_* make one OpenID Connect provider, or stop the process saying what is missing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT_APPS = (
    "import uptime.settings as s; "
    "print(s.SOCIALACCOUNT_PROVIDERS.get('openid_connect', {}).get('APPS', []))"
)


def settings_with(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UPTIME_OIDC_")}
    return subprocess.run(
        [sys.executable, "-c", PRINT_APPS],
        cwd=ROOT,
        env={**clean, "SECRET_KEY": "x", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_an_issuer_there_is_no_single_sign_on():
    result = settings_with()

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_an_issuer_and_client_make_one_provider_named_for_its_button():
    result = settings_with(
        UPTIME_OIDC_ISSUER="https://id.example.invalid/realms/ops/",
        UPTIME_OIDC_CLIENT_ID="uptime",
        UPTIME_OIDC_CLIENT_SECRET="s3",
        UPTIME_OIDC_NAME="Company SSO",
    )

    assert result.returncode == 0, result.stderr
    assert "'name': 'Company SSO'" in result.stdout
    assert "'server_url': 'https://id.example.invalid/realms/ops'" in result.stdout


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"UPTIME_OIDC_CLIENT_ID": "uptime"}, "not UPTIME_OIDC_ISSUER"),
        ({"UPTIME_OIDC_ISSUER": "https://id.example.invalid"}, "not UPTIME_OIDC_CLIENT_ID"),
        (
            {"UPTIME_OIDC_ISSUER": "id.example.invalid", "UPTIME_OIDC_CLIENT_ID": "u"},
            "UPTIME_OIDC_ISSUER",
        ),
    ],
)
def test_a_partial_configuration_stops_with_a_message(env, says):
    result = settings_with(**env)

    assert result.returncode != 0
    assert says in result.stderr
