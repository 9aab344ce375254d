"""The NotificationAttempt admin: a read-only history a user can filter."""

import pytest
from django.urls import reverse

from notifications.models import NotificationAttempt


@pytest.fixture
def attempt(down_transition):
    return down_transition.attempts.create(
        outcome=NotificationAttempt.Outcome.FAILED,
        status_code=404,
        error="Slack answered HTTP 404: no_service",
    )


def test_the_list_shows_why_an_attempt_failed(admin_client, attempt):
    url = reverse("admin:notifications_notificationattempt_changelist")
    response = admin_client.get(url, {"outcome__exact": "failed"})
    assert response.status_code == 200
    assert b"no_service" in response.content


def test_attempts_cannot_be_added_changed_or_deleted(admin_client, attempt):
    add = reverse("admin:notifications_notificationattempt_add")
    delete = reverse("admin:notifications_notificationattempt_delete", args=[attempt.id])
    change = reverse("admin:notifications_notificationattempt_change", args=[attempt.id])
    assert admin_client.get(add).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert admin_client.post(change, {"error": "edited"}).status_code == 403
    attempt.refresh_from_db()
    assert attempt.error == "Slack answered HTTP 404: no_service"
