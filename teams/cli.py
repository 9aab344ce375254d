"""Naming a project on the command line, where the operator (not a user) acts."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from teams.models import Project
from teams.services import personal_project_ensure

# Made for sites added before any account exists; the first account adopts it.
DEFAULT_PROJECT_NAME = "Default"


def project_for_command(*, project_id: str | None, username: str | None) -> Project:
    """--project ID, or --user NAME's personal project, or the only project there is."""
    if project_id is not None and username is not None:
        raise CommandError("Give --project or --user, not both.")
    if project_id is not None:
        project = (
            Project.objects.filter(pk=int(project_id)).first() if project_id.isdigit() else None
        )
        if project is None:
            raise CommandError(
                f"No project has the id {project_id!r}. See `manage.py list_projects`."
            )
        return project
    if username is not None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is named {username!r}.")
        return personal_project_ensure(user=user)
    projects = list(Project.objects.order_by("id")[:2])
    if len(projects) == 1:
        return projects[0]
    if not projects:
        return Project.objects.create(name=DEFAULT_PROJECT_NAME)
    raise CommandError(
        "There are several projects: name one with --project ID or --user USERNAME "
        "(see `manage.py list_projects`)."
    )
