"""GET/POST /api/projects/<id>/members and PATCH/DELETE /api/projects/<id>/members/<userId>."""

import pytest
from django.core import mail

from teams.models import AuditEvent, Invitation, Membership, Role
from tests.teams.conftest import make_user


def members_url(team, user=None) -> str:
    url = f"/api/projects/{team.project.pk}/members"
    return f"{url}/{user.pk}" if user is not None else url


def role_of(team, who) -> str:
    return Membership.objects.get(project=team.project, user=team.users[who]).role


def test_any_member_lists_the_members_with_their_roles(team):
    response = team.client("viewer").get(members_url(team))
    assert response.status_code == 200
    roles = {m["username"]: m["role"] for m in response.json()["members"]}
    assert roles == {
        "owner": "owner",
        "admin": "admin",
        "editor": "editor",
        "viewer": "viewer",
        "extra": "viewer",
    }


@pytest.mark.parametrize("key", ["username", "email"])
def test_an_existing_account_is_added_at_once_by_username_or_email(team, key):
    newcomer = make_user("newcomer")
    value = newcomer.username if key == "username" else "NEWCOMER@example.test"
    response = team.client("admin").post(
        members_url(team), {key: value, "role": "editor"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["userId"] == newcomer.pk
    assert Membership.objects.get(project=team.project, user=newcomer).role == Role.EDITOR
    event = AuditEvent.objects.get(action="member.added")
    assert (event.actor, event.target_repr, event.detail) == (
        team.users["admin"],
        "newcomer",
        {"role": "editor"},
    )
    assert mail.outbox == []


def test_an_unknown_email_is_sent_an_invitation_and_answered_202(team, settings):
    settings.UPTIME_BASE_URL = "https://uptime.example.test/"
    response = team.client("admin").post(
        members_url(team), {"email": "stranger@example.test", "role": "viewer"}, format="json"
    )
    assert response.status_code == 202
    invitation = response.json()["invitation"]
    assert (invitation["email"], invitation["role"], invitation["usable"]) == (
        "stranger@example.test",
        "viewer",
        True,
    )
    [message] = mail.outbox
    assert message.to == ["stranger@example.test"]
    assert "https://uptime.example.test/invite/" in message.body
    assert AuditEvent.objects.filter(action="invitation.sent", project=team.project).exists()


def test_nobody_is_invited_as_owner(team):
    response = team.client("owner").post(
        members_url(team), {"email": "stranger@example.test", "role": "owner"}, format="json"
    )
    assert response.status_code == 400
    assert "role" in response.json()
    assert not Invitation.objects.filter(email="stranger@example.test").exists()


def test_an_admin_may_not_add_an_owner_but_an_owner_may(team):
    newcomer = make_user("newcomer")
    body = {"username": "newcomer", "role": "owner"}
    assert team.client("admin").post(members_url(team), body, format="json").status_code == 403
    assert team.client("owner").post(members_url(team), body, format="json").status_code == 201
    assert Membership.objects.get(project=team.project, user=newcomer).role == Role.OWNER


@pytest.mark.parametrize(
    "body",
    [
        {"role": "viewer"},
        {"username": "x", "email": "x@example.test", "role": "viewer"},
        {"username": "nobody", "role": "viewer"},
        {"username": "editor", "role": "viewer"},  # a member already
        {"username": "newcomer", "role": "god"},
        {"email": "not an email", "role": "viewer"},
    ],
)
def test_bad_member_input_is_refused_with_a_400(team, body):
    make_user("newcomer")
    response = team.client("owner").post(members_url(team), body, format="json")
    assert response.status_code == 400, response.json()


def test_an_admin_changes_a_role_and_it_is_recorded(team):
    url = members_url(team, team.users["editor"])
    response = team.client("admin").patch(url, {"role": "viewer"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "viewer"
    event = AuditEvent.objects.get(action="member.role_changed")
    assert event.detail == {"from": "editor", "to": "viewer"}


def test_an_admin_cannot_change_an_owner_nor_make_one(team):
    client = team.client("admin")
    owner_url = members_url(team, team.users["owner"])
    assert client.patch(owner_url, {"role": "viewer"}, format="json").status_code == 403
    editor_url = members_url(team, team.users["editor"])
    assert client.patch(editor_url, {"role": "owner"}, format="json").status_code == 403
    assert (role_of(team, "owner"), role_of(team, "editor")) == ("owner", "editor")


def test_an_owner_hands_the_project_over_and_becomes_admin(team):
    url = members_url(team, team.users["editor"])
    response = team.client("owner").patch(url, {"role": "owner"}, format="json")
    assert response.status_code == 200
    assert (role_of(team, "editor"), role_of(team, "owner")) == ("owner", "admin")
    assert AuditEvent.objects.filter(action="project.transferred").exists()


def test_the_last_owner_cannot_step_down_or_leave(team):
    client = team.client("owner")
    url = members_url(team, team.users["owner"])
    response = client.patch(url, {"role": "admin"}, format="json")
    assert response.status_code == 400
    assert "at least one owner" in str(response.json())
    assert client.delete(url).status_code == 400
    assert role_of(team, "owner") == "owner"


def test_an_owner_steps_down_once_there_is_another_owner(team):
    Membership.objects.filter(project=team.project, user=team.users["admin"]).update(role="owner")
    url = members_url(team, team.users["owner"])
    assert team.client("owner").patch(url, {"role": "editor"}, format="json").status_code == 200
    assert role_of(team, "owner") == "editor"


def test_an_admin_removes_a_member_and_a_viewer_may_leave(team):
    assert team.client("admin").delete(members_url(team, team.users["editor"])).status_code == 204
    assert team.client("viewer").delete(members_url(team, team.users["viewer"])).status_code == 204
    remaining = set(team.project.memberships.values_list("user__username", flat=True))
    assert remaining == {"owner", "admin", "extra"}
    assert AuditEvent.objects.filter(action="member.removed").count() == 2


def test_a_non_member_or_junk_user_id_answers_404(team):
    stranger = make_user("stranger")
    client = team.client("owner")
    for user_id in (stranger.pk, "abc", 10**30):
        url = f"{members_url(team)}/{user_id}"
        assert client.patch(url, {"role": "viewer"}, format="json").status_code == 404
        assert client.delete(url).status_code == 404
