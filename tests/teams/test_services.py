"""teams.services: the rules the API and the pages share."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from teams.models import AuditEvent, Invitation, Membership, Project, Role
from teams.services import (
    member_add,
    member_add_or_invite,
    member_remove,
    member_set_role,
    project_create,
    project_delete,
    project_transfer,
    project_update,
)


@pytest.fixture
def people(db):
    User = get_user_model()
    owner = User.objects.create_user("olga", "olga@example.test", "pw")
    admin = User.objects.create_user("adam", "adam@example.test", "pw")
    viewer = User.objects.create_user("vera", "vera@example.test", "pw")
    project = project_create(user=owner, name="Shop")
    member_add(project=project, actor=owner, user=admin, role=Role.ADMIN)
    member_add(project=project, actor=owner, user=viewer, role=Role.VIEWER)
    return project, owner, admin, viewer


def role(project, user) -> str:
    return Membership.objects.get(project=project, user=user).role


def test_a_transfer_makes_the_member_owner_and_the_old_owner_admin(people):
    project, owner, admin, _ = people
    project_transfer(project=project, actor=owner, user=admin)
    assert (role(project, admin), role(project, owner)) == (Role.OWNER, Role.ADMIN)
    assert AuditEvent.objects.filter(project=project, action="project.transferred").exists()


def test_setting_the_role_owner_is_a_transfer(people):
    project, owner, admin, _ = people
    member_set_role(project=project, actor=owner, user=admin, role="owner")
    assert (role(project, admin), role(project, owner)) == (Role.OWNER, Role.ADMIN)


def test_an_admin_cannot_make_an_owner_nor_change_one(people):
    project, owner, admin, viewer = people
    with pytest.raises(PermissionDenied):
        member_set_role(project=project, actor=admin, user=viewer, role="owner")
    with pytest.raises(PermissionDenied):
        member_set_role(project=project, actor=admin, user=owner, role="viewer")
    with pytest.raises(PermissionDenied):
        member_remove(project=project, actor=admin, user=owner)
    assert role(project, owner) == Role.OWNER


def test_the_last_owner_cannot_step_down_nor_leave(people):
    project, owner, _, _ = people
    with pytest.raises(ValidationError, match="at least one owner"):
        member_set_role(project=project, actor=owner, user=owner, role="admin")
    with pytest.raises(ValidationError, match="at least one owner"):
        member_remove(project=project, actor=owner, user=owner)
    assert role(project, owner) == Role.OWNER


def test_a_viewer_may_leave_but_not_remove_others(people):
    project, _, admin, viewer = people
    with pytest.raises(PermissionDenied):
        member_remove(project=project, actor=viewer, user=admin)
    member_remove(project=project, actor=viewer, user=viewer)
    assert not Membership.objects.filter(project=project, user=viewer).exists()


def test_an_unknown_email_is_invited_and_a_known_one_added(people):
    project, owner, _, _ = people
    User = get_user_model()
    known = User.objects.create_user("kim", "Kim@Example.test", "pw")
    result = member_add_or_invite(
        project=project, actor=owner, email="kim@example.test", role="editor", base_url="http://x"
    )
    assert isinstance(result, Membership) and result.user == known
    result = member_add_or_invite(
        project=project, actor=owner, email="new@example.test", role="viewer", base_url="http://x"
    )
    assert isinstance(result, Invitation)
    assert mail.outbox[-1].to == ["new@example.test"]


def test_a_personal_project_is_kept_while_its_user_exists(people):
    _, owner, _, _ = people
    personal = Project.objects.get(personal_of=owner)
    with pytest.raises(ValidationError, match="personal project"):
        project_delete(project=personal, actor=owner)
    assert Project.objects.filter(pk=personal.pk).exists()


def test_only_an_owner_deletes_and_the_deletion_is_recorded_without_the_project(people):
    project, owner, admin, _ = people
    with pytest.raises(PermissionDenied):
        project_delete(project=project, actor=admin)
    project_delete(project=project, actor=owner)
    event = AuditEvent.objects.get(action="project.deleted")
    assert (event.project, event.target_repr, event.actor) == (None, "Shop", owner)


def test_renaming_and_settings_are_recorded_separately(people):
    project, _, admin, viewer = people
    with pytest.raises(PermissionDenied):
        project_update(project=project, actor=viewer, name="X")
    project_update(project=project, actor=admin, name="Shop 2", require_2fa=True)
    actions = set(AuditEvent.objects.filter(project=project).values_list("action", flat=True))
    assert {"project.renamed", "project.settings_changed"} <= actions
