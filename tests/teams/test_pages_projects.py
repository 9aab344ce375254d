"""The projects list, creating a project, its settings, deleting and leaving it."""

import pytest
from django.urls import reverse

from sites.models import Site
from sites.services import site_create
from teams.models import Membership, Project, Role
from tests.teams.pages_helpers import make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(user):
    return make_team()


def as_(client, user):
    client.force_login(user)
    return client


def text_of(response):
    return response.content.decode().replace("\xa0", " ")


def test_the_projects_page_lists_the_users_projects_with_their_role(client, team):
    page = text_of(as_(client, team.editor).get(reverse("projects")))

    assert "Operations" in page
    assert "editor-user&#x27;s project" in page
    assert 'class="role role--editor"' in page
    assert "mallory" not in page


def test_creating_a_project_makes_the_user_its_owner(client, team):
    response = as_(client, team.viewer).post(reverse("projects"), {"name": "Side gig"}, follow=True)

    project = Project.objects.get(name="Side gig")
    assert response.redirect_chain == [(reverse("project_members", args=[project.pk]), 302)]
    assert Membership.objects.get(project=project).role == Role.OWNER
    assert "Created Side gig." in text_of(response)


def test_a_project_needs_a_name(client, team):
    response = as_(client, team.viewer).post(reverse("projects"), {"name": ""})

    assert response.status_code == 200
    assert "This field is required." in text_of(response)


@pytest.mark.parametrize(
    ("role", "status"), [("owner", 200), ("admin", 200), ("editor", 403), ("viewer", 403)]
)
def test_the_settings_page_is_for_admins_and_owners(client, team, role, status):
    response = as_(client, team.member(role)).get(
        reverse("project_settings", args=[team.project.pk])
    )

    assert response.status_code == status


def test_an_admin_renames_the_project_and_requires_two_factor(client, team):
    response = as_(client, team.admin).post(
        reverse("project_settings", args=[team.project.pk]),
        {"name": "Platform", "require_2fa": "on"},
        follow=True,
    )

    team.project.refresh_from_db()
    assert (team.project.name, team.project.require_2fa) == ("Platform", True)
    assert "Settings saved." in text_of(response)


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_change_settings(client, team, role):
    response = as_(client, team.member(role)).post(
        reverse("project_settings", args=[team.project.pk]), {"name": "Hijacked"}
    )

    assert response.status_code == 403
    team.project.refresh_from_db()
    assert team.project.name == "Operations"


def test_an_outsider_gets_404_on_every_project_page(client, team):
    as_(client, team.outsider)
    pk = team.project.pk

    for name in ("project_settings", "project_delete", "project_leave", "project_members"):
        assert client.get(reverse(name, args=[pk])).status_code == 404, name
        assert client.post(reverse(name, args=[pk]), {"name": "x"}).status_code == 404, name
    assert Project.objects.filter(pk=pk, name="Operations").exists()


def test_the_owner_deletes_the_project_and_its_sites_after_confirming(client, team):
    site_create(project=team.project, url="http://127.0.0.1:9/")
    as_(client, team.owner)

    confirm = client.get(reverse("project_delete", args=[team.project.pk]))
    response = client.post(reverse("project_delete", args=[team.project.pk]), follow=True)

    assert "Its 1 site," in text_of(confirm)
    assert response.redirect_chain == [(reverse("projects"), 302)]
    assert "Deleted Operations and its sites." in text_of(response)
    assert not Project.objects.filter(pk=team.project.pk).exists()
    assert not Site.objects.exists()


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_only_the_owner_may_delete_the_project(client, team, role):
    as_(client, team.member(role))

    assert client.get(reverse("project_delete", args=[team.project.pk])).status_code == 403
    assert client.post(reverse("project_delete", args=[team.project.pk])).status_code == 403
    assert Project.objects.filter(pk=team.project.pk).exists()


def test_a_personal_project_is_not_deleted(client, team):
    personal = team.owner.personal_project

    response = as_(client, team.owner).post(
        reverse("project_delete", args=[personal.pk]), follow=True
    )

    assert "personal project cannot be deleted" in text_of(response)
    assert Project.objects.filter(pk=personal.pk).exists()


def test_a_member_leaves_the_project(client, team):
    as_(client, team.viewer)

    client.get(reverse("project_leave", args=[team.project.pk]))
    response = client.post(reverse("project_leave", args=[team.project.pk]), follow=True)

    assert "You left Operations." in text_of(response)
    assert not Membership.objects.filter(project=team.project, user=team.viewer).exists()


def test_the_last_owner_cannot_leave(client, team):
    response = as_(client, team.owner).post(
        reverse("project_leave", args=[team.project.pk]), follow=True
    )

    assert "at least one owner" in text_of(response)
    assert Membership.objects.filter(
        project=team.project, user=team.owner, role=Role.OWNER
    ).exists()
