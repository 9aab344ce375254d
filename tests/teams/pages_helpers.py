"""A project with one member of each role, and an outsider with a project of their own.

The page tests log in as each of them in turn (alice, the `user` fixture, owns
the team project; her personal project is separate).
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from teams.models import Membership, Project, Role
from teams.services import personal_project_ensure, project_create
from tests.factories import alice


@dataclass
class Team:
    project: Project
    owner: AbstractBaseUser
    admin: AbstractBaseUser
    editor: AbstractBaseUser
    viewer: AbstractBaseUser
    outsider: AbstractBaseUser
    outsider_project: Project

    def member(self, role: str) -> AbstractBaseUser:
        return getattr(self, role)


def make_user(username: str) -> AbstractBaseUser:
    return get_user_model().objects.create_user(
        username=username, password="s3cret-pass", email=f"{username}@example.invalid"
    )


def make_team() -> Team:
    owner = alice()
    project = project_create(user=owner, name="Operations")
    members = {}
    for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER):
        members[role.value] = make_user(f"{role.value}-user")
        Membership.objects.create(user=members[role.value], project=project, role=role)
    outsider = make_user("mallory")
    return Team(
        project=project,
        owner=owner,
        outsider=outsider,
        outsider_project=personal_project_ensure(user=outsider),
        **members,
    )
