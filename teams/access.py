"""What each role may do: one table, checked in one function.

Reading an owned object goes through a selector (a non-member gets a 404);
changing it then needs a role (a member with too small a role gets a 403).
"""

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied

from teams.models import Project, Role
from teams.selectors import role_of


class Action(StrEnum):
    READ = "read"
    EDIT_MONITORS = "edit monitors"  # add, change, pause, check now, delete
    MANAGE_PROJECT = "manage the project"  # members, invitations, settings, audit log
    OWN_PROJECT = "delete or transfer the project"


# The least role that may take each action (the README's role table).
LEAST_ROLE = {
    Action.READ: Role.VIEWER,
    Action.EDIT_MONITORS: Role.EDITOR,
    Action.MANAGE_PROJECT: Role.ADMIN,
    Action.OWN_PROJECT: Role.OWNER,
}


def can(*, user: AbstractBaseUser, project: Project | int, action: Action) -> bool:
    role = role_of(user=user, project=project)
    return role is not None and role.allows(LEAST_ROLE[action])


def require(*, user: AbstractBaseUser, project: Project | int, action: Action) -> None:
    """Raise PermissionDenied (a 403) unless the user's role allows the action."""
    if not can(user=user, project=project, action=action):
        needed = LEAST_ROLE[action].label.lower()
        raise PermissionDenied(f"Only a project {needed} or above may {action}.")
