"""Down monitors, channels and members for the acknowledgement and follow-up tests."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from monitor.models import Transition
from notifications.models import Channel
from sites.models import Site
from teams.models import Membership, Project, Role

SENT = Transition.NotificationStatus.SENT


def member(project: Project, role: Role, username: str):
    user = get_user_model().objects.create_user(username=username, password="s3cret-pass")
    Membership.objects.create(project=project, user=user, role=role)
    return user


def down_site(project: Project, *, minutes_ago: float = 1, status: str = SENT, url: str = ""):
    """A site down since `minutes_ago`, its down transition announced (`status`) or not."""
    at = timezone.now() - timedelta(minutes=minutes_ago)
    site = Site.objects.create(
        project=project,
        url=url or f"https://down-{Site.objects.count()}.example.invalid",
        status=Site.Status.DOWN,
        status_changed_at=at,
        last_error_message="HTTP 503 Service Unavailable",
    )
    incident = Transition.objects.create(
        site=site, from_status="up", to_status="down", created_at=at, notification_status=status
    )
    return site, incident


def channel(project: Project, name: str = "ops", **fields) -> Channel:
    fields.setdefault("secrets", {"url": "http://127.0.0.1:9/hook"})
    return Channel.objects.create(project=project, kind="slack", name=name, **fields)
