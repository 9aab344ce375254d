"""Owners for test data: sites made in tests belong to alice's personal project.

alice is the `user` fixture (tests/conftest.py), so her API client sees them.
"""

from django.contrib.auth import get_user_model

from teams.models import Project
from teams.services import personal_project_ensure

ALICE = {"username": "alice", "password": "s3cret-pass"}


def alice():
    User = get_user_model()
    found = User.objects.filter(username=ALICE["username"]).first()
    return found or User.objects.create_user(**ALICE)


def alice_project() -> Project:
    return personal_project_ensure(user=alice())
