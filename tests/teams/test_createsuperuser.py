"""createsuperuser --noinput validates the password like every other way to set one."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError


def create(monkeypatch, password: str) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", password)
    call_command(
        "createsuperuser", "--noinput", username="root", email="root@example.invalid", verbosity=0
    )


def test_a_weak_password_is_refused_with_the_validators_reasons(db, monkeypatch):
    with pytest.raises(CommandError, match="DJANGO_SUPERUSER_PASSWORD is refused: .*too short"):
        create(monkeypatch, "a")

    assert not get_user_model().objects.exists()


def test_a_strong_password_makes_the_superuser_with_a_personal_project(db, monkeypatch):
    create(monkeypatch, "correct horse battery staple 42")

    user = get_user_model().objects.get()
    assert user.is_superuser and user.check_password("correct horse battery staple 42")
    assert user.personal_project.memberships.get().user == user
