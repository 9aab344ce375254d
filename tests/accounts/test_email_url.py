"""EMAIL_URL becomes Django's EMAIL_* settings, or stops the process naming the problem."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from uptime.env import env_email

SMTP = "django.core.mail.backends.smtp.EmailBackend"


def test_unset_means_the_console(monkeypatch):
    monkeypatch.delenv("EMAIL_URL", raising=False)

    assert env_email("EMAIL_URL") == {
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"
    }


def test_smtp_with_starttls_and_a_password_needing_escapes(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp://mailer:p%40ss%2Fword@mail.example.invalid:587/?tls=1")

    assert env_email("EMAIL_URL") == {
        "EMAIL_BACKEND": SMTP,
        "EMAIL_HOST": "mail.example.invalid",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "mailer",
        "EMAIL_HOST_PASSWORD": "p@ss/word",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 10,
    }


def test_smtps_is_tls_from_the_start_on_465(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtps://mail.example.invalid/?timeout=5")

    config = env_email("EMAIL_URL")

    assert (config["EMAIL_PORT"], config["EMAIL_USE_SSL"], config["EMAIL_USE_TLS"]) == (
        465,
        True,
        False,
    )
    assert config["EMAIL_TIMEOUT"] == 5


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("mail.example.invalid", "must start with smtp://"),
        ("http://mail.example.invalid", "must start with smtp://"),
        ("smtp://", "names no host"),
        ("smtp://mail.example.invalid:port/", "malformed"),
        ("smtp://mail.example.invalid/?tls=maybe", "tls='maybe' is not a boolean"),
        ("smtp://mail.example.invalid/?ssl=1", "unknown options ssl"),
        ("smtps://mail.example.invalid/?tls=1", "TLS already"),
        ("smtp://mail.example.invalid/?timeout=0", "timeout='0'"),
    ],
)
def test_a_malformed_value_stops_with_a_message_naming_the_variable(monkeypatch, value, says):
    monkeypatch.setenv("EMAIL_URL", value)

    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL") as error:
        env_email("EMAIL_URL")

    assert says in str(error.value)
