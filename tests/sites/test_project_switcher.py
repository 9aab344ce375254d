"""The dashboard's project switcher: it narrows the list, the poll and where a site is added."""

import pytest
from django.urls import reverse

from sites.models import Site
from sites.services import site_create
from sites.views import SESSION_PROJECT
from tests.teams.pages_helpers import make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(user):
    team = make_team()
    site_create(project=team.project, url="http://127.0.0.1:9/", name="Team site")
    site_create(project=team.owner.personal_project, url="http://127.0.0.1:10/", name="Own site")
    return team


def as_(client, user):
    client.force_login(user)
    return client


def names(response):
    return sorted(site.name for site in response.context["sites"])


def test_all_projects_are_shown_by_default(client, team):
    response = as_(client, team.owner).get(reverse("dashboard"))

    assert names(response) == ["Own site", "Team site"]
    page = response.content.decode()
    assert "All projects" in page
    assert f'<option value="{team.project.pk}">Operations</option>' in page


def test_choosing_a_project_narrows_the_list_and_the_counts(client, team):
    response = as_(client, team.owner).get(reverse("dashboard"), {"project": team.project.pk})

    assert names(response) == ["Team site"]
    assert sum(response.context["counts"].values()) == 1
    assert f'<option value="{team.project.pk}" selected>' in response.content.decode()


def test_the_choice_is_remembered_until_all_projects_is_chosen(client, team):
    as_(client, team.owner).get(reverse("dashboard"), {"project": team.project.pk})

    assert names(client.get(reverse("dashboard"))) == ["Team site"]
    assert names(client.get(reverse("dashboard"), {"project": "all"})) == ["Own site", "Team site"]
    assert SESSION_PROJECT not in client.session
    assert names(client.get(reverse("dashboard"))) == ["Own site", "Team site"]


def test_the_htmx_poll_names_the_chosen_project(client, team):
    as_(client, team.owner)
    page = client.get(reverse("dashboard"), {"project": team.project.pk}).content.decode()

    poll_url = f"{reverse('site_list')}?project={team.project.pk}"
    assert f'hx-get="{poll_url}"' in page
    assert names(client.get(poll_url, headers={"HX-Request": "true"})) == ["Team site"]
    # Without a project the poll shows all, whatever another tab chose.
    assert names(client.get(reverse("site_list"))) == ["Own site", "Team site"]


def test_another_users_project_is_404_and_reveals_nothing(client, team):
    response = as_(client, team.outsider).get(reverse("dashboard"), {"project": team.project.pk})

    assert response.status_code == 404
    assert b"Team site" not in response.content
    poll = client.get(reverse("site_list"), {"project": team.project.pk})
    assert poll.status_code == 404


def test_a_junk_project_id_is_404(client, team):
    assert (
        as_(client, team.owner).get(reverse("dashboard"), {"project": "1 OR 1"}).status_code == 404
    )


def test_a_remembered_project_the_user_left_falls_back_to_all(client, team):
    as_(client, team.viewer).get(reverse("dashboard"), {"project": team.project.pk})
    team.project.memberships.filter(user=team.viewer).delete()

    response = client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert response.context["project"] is None
    assert names(response) == []


def test_a_site_added_while_a_project_is_chosen_goes_to_it(client, team):
    as_(client, team.editor)
    form = client.get(reverse("site_add"), {"project": team.project.pk}).context["form"]
    assert form.initial["project"] == team.project.pk

    client.post(
        reverse("site_add"),
        {
            "url": "http://127.0.0.1:11/",
            "interval": "60",
            "timeout": "5",
            "project": team.project.pk,
        },
    )

    assert Site.objects.get(url="http://127.0.0.1:11/").project == team.project


def test_without_a_choice_a_site_goes_to_the_personal_project(client, team):
    as_(client, team.editor)
    form = client.get(reverse("site_add")).context["form"]

    client.post(
        reverse("site_add"),
        {
            "url": "http://127.0.0.1:11/",
            "interval": "60",
            "timeout": "5",
            "project": form.initial["project"],
        },
    )

    assert Site.objects.get(url="http://127.0.0.1:11/").project == team.editor.personal_project


def test_the_add_form_offers_only_projects_where_the_user_is_editor_or_above(client, team):
    form = (
        as_(client, team.viewer)
        .get(reverse("site_add"), {"project": team.project.pk})
        .context["form"]
    )

    offered = [pk for pk, _ in form.fields["project"].choices]
    assert offered == [team.viewer.personal_project.pk]
    assert form.initial["project"] == team.viewer.personal_project.pk
    assert form.offers_projects  # the page says where the site would go


def test_a_viewer_cannot_add_a_site_to_the_project_by_crafting_the_form(client, team):
    response = as_(client, team.viewer).post(
        reverse("site_add"),
        {
            "url": "http://127.0.0.1:11/",
            "interval": "60",
            "timeout": "5",
            "project": team.project.pk,
        },
    )

    assert response.status_code == 200
    assert "You may not add sites to that project." in response.content.decode()
    assert not Site.objects.filter(url="http://127.0.0.1:11/").exists()


def test_an_outsider_cannot_add_a_site_to_another_project(client, team):
    as_(client, team.outsider).post(
        reverse("site_add"),
        {
            "url": "http://127.0.0.1:11/",
            "interval": "60",
            "timeout": "5",
            "project": team.project.pk,
        },
    )

    assert not Site.objects.filter(url="http://127.0.0.1:11/").exists()
