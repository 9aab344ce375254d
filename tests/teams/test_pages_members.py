"""The members page: every member sees who belongs; admins change roles, remove and invite."""

import pytest
from django.core import mail
from django.urls import reverse

from teams.models import Invitation, Membership, Role
from tests.teams.pages_helpers import make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(user):
    return make_team()


def as_(client, user):
    client.force_login(user)
    return client


def text_of(response):
    return response.content.decode().replace("\xa0", " ")


def role_of(team, user):
    return Membership.objects.get(project=team.project, user=user).role


@pytest.mark.parametrize("role", ["owner", "admin", "editor", "viewer"])
def test_every_member_sees_the_members_and_their_roles(client, team, role):
    response = as_(client, team.member(role)).get(
        reverse("project_members", args=[team.project.pk])
    )

    page = text_of(response)
    assert response.status_code == 200
    for name in ("alice", "admin-user", "editor-user", "viewer-user"):
        assert name in page
    assert "mallory" not in page


@pytest.mark.parametrize(
    ("role", "manages"), [("owner", True), ("admin", True), ("editor", False), ("viewer", False)]
)
def test_only_admins_see_the_invite_form_role_controls_and_invitations(client, team, role, manages):
    page = text_of(
        as_(client, team.member(role)).get(reverse("project_members", args=[team.project.pk]))
    )

    assert ("Add or invite" in page) is manages
    assert ("Pending invitations" in page) is manages
    assert ("Set role" in page) is manages


def test_an_outsider_gets_404_for_the_members_page_and_every_write(client, team):
    as_(client, team.outsider)
    pk, target = team.project.pk, team.viewer.pk

    assert client.get(reverse("project_members", args=[pk])).status_code == 404
    assert (
        client.post(
            reverse("project_members", args=[pk]), {"who": "mallory", "role": "admin"}
        ).status_code
        == 404
    )
    assert (
        client.post(reverse("member_role", args=[pk, target]), {"role": "admin"}).status_code == 404
    )
    assert client.post(reverse("member_remove", args=[pk, target])).status_code == 404
    assert role_of(team, team.viewer) == Role.VIEWER
    assert not Membership.objects.filter(project=team.project, user=team.outsider).exists()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_writes_answer_403(client, team, role):
    as_(client, team.member(role))
    pk = team.project.pk

    invite = client.post(
        reverse("project_members", args=[pk]), {"who": "x@example.invalid", "role": "viewer"}
    )
    promote = client.post(reverse("member_role", args=[pk, team.viewer.pk]), {"role": "admin"})
    remove = client.post(reverse("member_remove", args=[pk, team.admin.pk]))

    assert (invite.status_code, promote.status_code, remove.status_code) == (403, 403, 403)
    assert role_of(team, team.viewer) == Role.VIEWER
    assert Membership.objects.filter(project=team.project, user=team.admin).exists()
    assert not mail.outbox


def test_inviting_an_unknown_email_sends_an_invitation_and_lists_it(client, team):
    as_(client, team.admin)

    response = client.post(
        reverse("project_members", args=[team.project.pk]),
        {"who": "carol@example.invalid", "role": "editor"},
        follow=True,
    )

    assert "Invitation sent to carol@example.invalid." in text_of(response)
    [message] = mail.outbox
    assert message.to == ["carol@example.invalid"]
    assert "Operations" in message.subject
    assert "http://testserver/invite/" in message.body
    invitation = Invitation.objects.get()
    assert (invitation.role, invitation.invited_by) == (Role.EDITOR, team.admin)
    assert "carol@example.invalid" in text_of(response)  # listed as pending
    assert "Revoke" in text_of(response)


def test_adding_by_username_makes_a_member_at_once(client, team):
    bob = make_user("bob")
    as_(client, team.owner)

    response = client.post(
        reverse("project_members", args=[team.project.pk]),
        {"who": "bob", "role": "viewer"},
        follow=True,
    )

    assert "Added bob as viewer." in text_of(response)
    assert role_of(team, bob) == Role.VIEWER
    assert not mail.outbox


def test_an_unknown_username_is_named_next_to_the_field(client, team):
    response = as_(client, team.admin).post(
        reverse("project_members", args=[team.project.pk]), {"who": "nobody", "role": "viewer"}
    )

    assert response.status_code == 200
    assert "No account is named &#x27;nobody&#x27;." in text_of(response)


def test_a_malformed_email_is_refused(client, team):
    response = as_(client, team.admin).post(
        reverse("project_members", args=[team.project.pk]), {"who": "bob@", "role": "viewer"}
    )

    assert "Enter a username or a valid email address." in text_of(response)
    assert not mail.outbox and not Invitation.objects.exists()


def test_inviting_as_owner_is_not_offered(client, team):
    response = as_(client, team.owner).post(
        reverse("project_members", args=[team.project.pk]),
        {"who": "c@example.invalid", "role": "owner"},
    )

    assert "Select a valid choice." in text_of(response)
    assert not mail.outbox


def test_an_admin_changes_a_role(client, team):
    response = as_(client, team.admin).post(
        reverse("member_role", args=[team.project.pk, team.viewer.pk]),
        {"role": "editor"},
        follow=True,
    )

    assert "viewer-user is now editor." in text_of(response)
    assert role_of(team, team.viewer) == Role.EDITOR


def test_an_admin_may_not_make_an_owner(client, team):
    response = as_(client, team.admin).post(
        reverse("member_role", args=[team.project.pk, team.viewer.pk]), {"role": "owner"}
    )

    assert response.status_code == 403
    assert role_of(team, team.viewer) == Role.VIEWER


def test_the_owner_making_another_owner_transfers_the_project(client, team):
    as_(client, team.owner).post(
        reverse("member_role", args=[team.project.pk, team.admin.pk]), {"role": "owner"}
    )

    assert role_of(team, team.admin) == Role.OWNER
    assert role_of(team, team.owner) == Role.ADMIN


def test_an_admin_removes_a_member(client, team):
    response = as_(client, team.admin).post(
        reverse("member_remove", args=[team.project.pk, team.editor.pk]), follow=True
    )

    assert "Removed editor-user from Operations." in text_of(response)
    assert not Membership.objects.filter(project=team.project, user=team.editor).exists()


def test_an_admin_may_not_remove_the_owner(client, team):
    response = as_(client, team.admin).post(
        reverse("member_remove", args=[team.project.pk, team.owner.pk])
    )

    assert response.status_code == 403
    assert role_of(team, team.owner) == Role.OWNER


def test_changing_the_role_of_a_non_member_is_404(client, team):
    as_(client, team.admin)

    response = client.post(
        reverse("member_role", args=[team.project.pk, team.outsider.pk]), {"role": "viewer"}
    )

    assert response.status_code == 404
    assert not Membership.objects.filter(project=team.project, user=team.outsider).exists()


def test_revoking_an_invitation_removes_it(client, team):
    as_(client, team.admin).post(
        reverse("project_members", args=[team.project.pk]),
        {"who": "carol@example.invalid", "role": "viewer"},
    )
    invitation = Invitation.objects.get()

    response = client.post(
        reverse("project_invitation_revoke", args=[team.project.pk, invitation.pk]), follow=True
    )

    assert "Withdrew the invitation to carol@example.invalid." in text_of(response)
    assert not Invitation.objects.exists()


def test_an_invitation_of_another_project_is_404_on_this_projects_route(client, team):
    as_(client, team.outsider).post(
        reverse("project_members", args=[team.outsider_project.pk]),
        {"who": "x@example.invalid", "role": "viewer"},
    )
    theirs = Invitation.objects.get()

    response = as_(client, team.admin).post(
        reverse("project_invitation_revoke", args=[team.project.pk, theirs.pk])
    )

    assert response.status_code == 404
    assert Invitation.objects.filter(pk=theirs.pk).exists()


def test_an_invitation_whose_email_cannot_be_sent_is_not_kept(client, team, settings, refused_url):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", int(refused_url.rsplit(":", 1)[1][:-1])

    response = as_(client, team.admin).post(
        reverse("project_members", args=[team.project.pk]),
        {"who": "carol@example.invalid", "role": "viewer"},
    )

    assert response.status_code == 200
    assert "The invitation email could not be sent" in text_of(response)
    assert not Invitation.objects.exists()
