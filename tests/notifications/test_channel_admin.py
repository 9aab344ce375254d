"""The admin's channels (secrets never shown), outbox and acknowledgements."""

import pytest
from django.urls import reverse

from notifications.models import Channel, Notification
from teams.models import AuditEvent
from tests.factories import alice_project

pytestmark = pytest.mark.django_db
SECRET = "http://127.0.0.1:9/services/T0/B0/ADMINSECRET"


@pytest.fixture
def channel():
    return Channel.objects.create(
        project=alice_project(),
        kind="slack",
        name="Ops Slack",
        secrets={"url": SECRET},
        enabled=False,
        disabled_reason="Slack answered HTTP 404: no_service",
    )


def test_the_channel_list_and_page_show_health_but_never_the_secret(admin_client, channel):
    listed = admin_client.get(reverse("admin:notifications_channel_changelist"))
    page = admin_client.get(reverse("admin:notifications_channel_change", args=[channel.pk]))
    assert listed.status_code == page.status_code == 200
    for response in (listed, page):
        assert "no_service" in response.content.decode()
        assert "ADMINSECRET" not in response.content.decode()
    assert "********" in page.content.decode()


def test_turning_a_channel_on_in_the_admin_clears_why_it_was_off(admin_client, channel):
    url = reverse("admin:notifications_channel_change", args=[channel.pk])
    response = admin_client.post(
        url,
        {"name": "Ops Slack", "events": '["down"]', "is_default": "on", "enabled": "on"},
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.enabled and channel.disabled_reason == "" and channel.events == ["down"]
    assert channel.secrets == {"url": SECRET}
    assert AuditEvent.objects.filter(action="channel.changed").exists()


def test_bad_events_in_the_admin_are_a_form_error(admin_client, channel):
    url = reverse("admin:notifications_channel_change", args=[channel.pk])
    response = admin_client.post(url, {"name": "Ops Slack", "events": '["sometimes"]'})
    assert response.status_code == 200
    assert "Unknown event" in response.content.decode()


def test_the_outbox_is_a_read_only_list(admin_client, channel):
    entry = Notification.objects.create(channel=channel, event="down", key="t1", attempts=2)
    listed = admin_client.get(reverse("admin:notifications_notification_changelist"))
    assert listed.status_code == 200 and "Ops Slack" in listed.content.decode()
    change = reverse("admin:notifications_notification_change", args=[entry.pk])
    assert admin_client.post(change, {"status": "sent"}).status_code == 403
    assert admin_client.get(reverse("admin:notifications_notification_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:notifications_acknowledgement_changelist")).status_code
        == 200
    )
