"""GET /api/projects/<id>/invitations and DELETE /api/projects/<id>/invitations/<invId>."""

from django.core import mail

from teams.invitations import invitation_accept, invitation_for_key
from teams.models import AuditEvent, Invitation
from teams.services import member_invite
from tests.teams.conftest import make_user


def test_an_admin_lists_the_project_s_invitations(team):
    response = team.client("admin").get(f"/api/projects/{team.project.pk}/invitations")
    assert response.status_code == 200
    [invitation] = response.json()["invitations"]
    assert invitation["email"] == "invited@example.test"
    assert invitation["invitedBy"] == "owner"
    assert invitation["acceptedAt"] is None


def test_a_revoked_invitation_s_link_stops_working(team):
    _, key = member_invite(
        project=team.project,
        actor=team.users["owner"],
        email="late@example.test",
        role="editor",
        base_url="http://127.0.0.1:8000",
    )
    assert key in mail.outbox[-1].body
    invitation = invitation_for_key(key)
    url = f"/api/projects/{team.project.pk}/invitations/{invitation.pk}"
    assert team.client("admin").delete(url).status_code == 204
    assert invitation_for_key(key) is None
    assert AuditEvent.objects.filter(action="invitation.revoked", project=team.project).exists()


def test_an_accepted_invitation_is_kept_and_revoking_it_says_why(team):
    _, key = member_invite(
        project=team.project,
        actor=team.users["owner"],
        email="joined@example.test",
        role="viewer",
        base_url="http://127.0.0.1:8000",
    )
    invitation = invitation_for_key(key)
    invitation_accept(invitation=invitation, user=make_user("joined"))

    url = f"/api/projects/{team.project.pk}/invitations/{invitation.pk}"
    response = team.client("admin").delete(url)

    assert response.status_code == 400
    assert "remove the member instead" in str(response.json())
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_another_project_s_invitation_answers_404(team):
    outsider_project = team.outsider_site.project
    other = Invitation.objects.create(
        project=outsider_project,
        email="x@example.test",
        role="viewer",
        digest="1" * 64,
        expires_at=team.invitation.expires_at,
    )
    url = f"/api/projects/{team.project.pk}/invitations/{other.pk}"
    assert team.client("owner").delete(url).status_code == 404
    assert Invitation.objects.filter(pk=other.pk).exists()


def test_an_accepted_invitation_is_recorded_in_the_project_s_log(team):
    invitee = make_user("invitee")
    invitation_accept(invitation=team.invitation, user=invitee)
    event = AuditEvent.objects.get(action="invitation.accepted")
    assert (event.project, event.actor) == (team.project, invitee)
