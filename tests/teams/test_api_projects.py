"""GET/POST /api/projects and GET/PATCH/DELETE /api/projects/<id>."""

from django.utils import timezone

from monitor.models import Check, Transition
from teams.models import AuditEvent, Membership, Project, Role
from tests.teams.conftest import SECRET_PROJECT_NAME


def test_the_list_shows_each_project_with_the_caller_s_role_and_site_count(team):
    response = team.client("editor").get("/api/projects")
    assert response.status_code == 200
    projects = {p["name"]: p for p in response.json()["projects"]}
    acme = projects[SECRET_PROJECT_NAME]
    assert acme == {
        "id": team.project.pk,
        "name": SECRET_PROJECT_NAME,
        "role": "editor",
        "personal": False,
        "require2fa": False,
        "createdAt": acme["createdAt"],
        "siteCount": 1,
    }
    assert projects["editor's project"]["personal"] is True
    assert projects["editor's project"]["role"] == "owner"
    assert projects["editor's project"]["siteCount"] == 0


def test_a_new_project_is_answered_201_with_its_id_and_its_creator_owns_it(team):
    response = team.client("viewer").post("/api/projects", {"name": " Ops "}, format="json")
    assert response.status_code == 201
    project = Project.objects.get(pk=response.json()["id"])
    assert project.name == "Ops"
    assert Membership.objects.get(project=project).role == Role.OWNER
    assert AuditEvent.objects.filter(project=project, action="project.created").exists()


def test_a_project_without_a_name_is_refused_naming_the_field(team):
    for body in ({}, {"name": ""}, {"name": "   "}, {"name": "x", "colour": "red"}):
        response = team.client("owner").post("/api/projects", body, format="json")
        assert response.status_code == 400
        assert set(response.json()) & {"name", "colour"}


def test_an_admin_renames_the_project_and_requires_2fa(team):
    url = f"/api/projects/{team.project.pk}"
    response = team.client("admin").patch(url, {"name": "New", "require2fa": True}, format="json")
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["require2fa"]) == ("New", True)
    actions = AuditEvent.objects.filter(project=team.project).values_list("action", flat=True)
    assert {"project.renamed", "project.settings_changed"} <= set(actions)


def test_an_empty_change_is_refused(team):
    response = team.client("owner").patch(f"/api/projects/{team.project.pk}", {}, format="json")
    assert response.status_code == 400


def test_the_owner_deletes_the_project_with_its_sites(team):
    response = team.client("owner").delete(f"/api/projects/{team.project.pk}")
    assert response.status_code == 204
    assert not Project.objects.filter(pk=team.project.pk).exists()
    event = AuditEvent.objects.get(action="project.deleted")
    assert (event.project, event.target_repr, event.detail) == (
        None,
        SECRET_PROJECT_NAME,
        {"sites": 1},
    )


def test_deleting_a_project_takes_its_sites_history_too(team):
    site = team.project.sites.get()
    check = Check.objects.create(site=site, checked_at=timezone.now(), up=False)
    Transition.objects.create(site=site, from_status="up", to_status="down", check_result=check)

    response = team.client("owner").delete(f"/api/projects/{team.project.pk}")

    assert response.status_code == 204
    assert not Check.objects.filter(site_id=site.pk).exists()
    assert not Transition.objects.filter(site_id=site.pk).exists()


def test_a_personal_project_cannot_be_deleted_and_the_answer_says_why(team):
    personal = Project.objects.get(personal_of=team.users["owner"])
    response = team.client("owner").delete(f"/api/projects/{personal.pk}")
    assert response.status_code == 400
    assert "personal project" in str(response.json())
    assert Project.objects.filter(pk=personal.pk).exists()


def test_junk_and_unknown_ids_answer_404(team):
    for project_id in ("abc", "0", "99999999", "1" * 30, "²"):
        assert team.client("owner").get(f"/api/projects/{project_id}").status_code == 404
