"""Reads of channels as a user sees them: only their projects' channels exist for them.

The API, the pages and the dashboard read channels through these functions,
never through Channel.objects, so another project's channel answers 404.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from notifications.models import Channel, Notification
from teams.access import Action, require
from teams.models import Membership, Role
from teams.selectors import project_ids

MAX_ID_DIGITS = len(str(2**63 - 1))


def channel_list(*, user: AbstractBaseUser, project_id: int | None = None) -> QuerySet[Channel]:
    """The channels of the user's projects, or of one of them."""
    if not user.is_authenticated:
        return Channel.objects.none()
    channels = Channel.objects.filter(project_id__in=project_ids(user=user))
    if project_id is not None:
        channels = channels.filter(project_id=project_id)
    return channels.prefetch_related("sites")


def channel_get(
    *, user: AbstractBaseUser, channel_id: int | str, action: Action = Action.READ
) -> Channel:
    """One of the user's channels; Channel.DoesNotExist for any other id, however spelt.

    Beyond reading, the user's role in its project must allow the action
    (PermissionDenied); found first, so a stranger gets a 404.
    """
    text = str(channel_id)
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_ID_DIGITS:
        raise Channel.DoesNotExist(f"No channel has the id {text!r}.")
    channel = channel_list(user=user).select_related("project").get(pk=int(text))
    if action != Action.READ:
        require(user=user, project=channel.project_id, action=action)
    return channel


def disabled_channels(*, user: AbstractBaseUser) -> QuerySet[Channel]:
    """Channels turned off by a permanent error, in the projects the user administers.

    The dashboard names each with its reason; a channel a user switched off
    has no reason and is not shown.
    """
    if not user.is_authenticated:
        return Channel.objects.none()
    admin_roles = [role for role in Role if role.allows(Role.ADMIN)]
    projects = Membership.objects.filter(user=user, role__in=admin_roles).values("project_id")
    return (
        Channel.objects.filter(project_id__in=projects, enabled=False)
        .exclude(disabled_reason="")
        .select_related("project")
        .order_by("project__name", "name", "id")
    )


def delivery_rows(transition) -> list[dict]:
    """Each channel's message for a transition (prefetched `notifications__channel`):
    its channel, status and, when it failed or was skipped, why (its last attempt)."""
    rows = []
    for notification in transition.notifications.all():
        reason = ""
        if notification.status in (Notification.Status.FAILED, Notification.Status.SKIPPED):
            reason = (
                notification.tries.order_by("-id").values_list("error", flat=True).first() or ""
            )
        rows.append(
            {
                "channel": notification.channel.name,
                "event": notification.event,
                "status": notification.get_status_display().lower(),
                "reason": reason,
            }
        )
    return rows
