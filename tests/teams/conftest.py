"""A team to test roles against: one project with a member of each role, and an outsider.

The outsider has a project and a site of their own; nothing of the team's
project (its name, its site's URL or name) may appear in what they are
answered.
"""

from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.test import APIClient

from sites.models import Site
from sites.services import site_create
from teams.models import ApiToken, Invitation, Membership, Project, Role
from teams.services import project_create
from teams.tokens import token_create

ROLES = ("owner", "admin", "editor", "viewer")
# Things only the team's members may learn; the outsider's answers are searched for them.
SECRET_PROJECT_NAME = "Acme hidden project"
SECRET_SITE_NAME = "acme hidden site"
SECRET_PATH = "acme-hidden-path"


@dataclass
class Team:
    project: Project
    site: Site
    users: dict[str, AbstractBaseUser]
    keys: dict[str, str]
    invitation: Invitation
    # Ids the routes act on, kept apart so no request removes what another needs.
    extra_member: AbstractBaseUser
    spare_token: ApiToken
    outsider_site: Site
    clients: dict[str, APIClient] = field(default_factory=dict)

    def client(self, who: str) -> APIClient:
        if who not in self.clients:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.keys[who]}")
            self.clients[who] = client
        return self.clients[who]

    @property
    def secrets(self) -> list[str]:
        return [SECRET_PROJECT_NAME, SECRET_SITE_NAME, SECRET_PATH, self.site.url]


def make_user(username: str) -> AbstractBaseUser:
    return get_user_model().objects.create_user(username, f"{username}@example.test", "s3cret-pass")


@pytest.fixture
def team(db, refused_url) -> Team:
    users = {name: make_user(name) for name in (*ROLES, "outsider")}
    project = project_create(user=users["owner"], name=SECRET_PROJECT_NAME)
    for role in ("admin", "editor", "viewer"):
        Membership.objects.create(project=project, user=users[role], role=role)
    extra = make_user("extra")
    Membership.objects.create(project=project, user=extra, role=Role.VIEWER)
    # Nothing listens at refused_url: checks and pings end at once, on this machine.
    site = site_create(project=project, url=refused_url + SECRET_PATH, name=SECRET_SITE_NAME)
    outsider_project = project_create(user=users["outsider"], name="Outsider's own")
    outsider_site = site_create(project=outsider_project, url=refused_url + "outsider")
    keys = {name: token_create(user=user, name="tests")[1] for name, user in users.items()}
    _, keys["read-only token"] = token_create(user=users["owner"], name="ro", read_only=True)
    spare, _ = token_create(user=users["owner"], name="spare")
    invitation = Invitation.objects.create(
        project=project,
        email="invited@example.test",
        role=Role.VIEWER,
        invited_by=users["owner"],
        digest="0" * 64,
        expires_at=project.created_at.replace(year=project.created_at.year + 1),
    )
    return Team(
        project=project,
        site=site,
        users=users,
        keys=keys,
        invitation=invitation,
        extra_member=extra,
        spare_token=spare,
        outsider_site=outsider_site,
    )
