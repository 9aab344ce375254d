"""Maintenance starting and ending reaches the channels that want to hear of it, once."""

import json
from datetime import timedelta

from django.utils import timezone

from monitor.maintenance import maintenance_create
from notifications.maintenance_notices import LOOKBACK, route_maintenance_notices
from notifications.models import Channel, Notification
from notifications.tasks_followups import send_followups
from tests.factories import alice_project


def _listening(webhook_server, events=("maintenance_start", "maintenance_end")) -> Channel:
    channel = webhook_server.channel
    channel.events = list(events)
    channel.save()
    return channel


def _window(*, started_ago: timedelta, lasts: timedelta, **fields):
    start = timezone.now() - started_ago
    return maintenance_create(
        project=alice_project(),
        title="Database upgrade <v16>",
        starts_at=start,
        ends_at=start + lasts,
        **fields,
    )


def test_a_window_that_just_started_sends_one_start_notice_however_many_ticks(
    webhook_server, django_capture_on_commit_callbacks
):
    webhook_server.expect_request("/in").respond_with_data("ok")
    _listening(webhook_server)
    _window(started_ago=timedelta(minutes=2), lasts=timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert send_followups() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert send_followups() == 0  # the next tick finds it sent already
    [(request, _)] = webhook_server.log
    body = json.loads(request.get_data())
    assert body["event"] == "maintenance_start"
    assert body["title"] == "Maintenance starts: Database upgrade <v16>"
    assert "every monitor" in body["text"]
    assert Notification.objects.get().status == "sent"


def test_a_window_that_just_ended_sends_its_end_notice(
    webhook_server, django_capture_on_commit_callbacks
):
    webhook_server.expect_request("/in").respond_with_data("ok")
    _listening(webhook_server)
    _window(started_ago=timedelta(hours=1, minutes=3), lasts=timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert send_followups() == 1
    body = json.loads(webhook_server.log[0][0].get_data())
    assert (body["event"], body["title"]) == (
        "maintenance_end",
        "Maintenance ended: Database upgrade <v16>",
    )


def test_only_channels_that_want_the_event_hear_of_it(webhook_server):
    _listening(webhook_server, events=("maintenance_end",))
    other = Channel.objects.create(project=alice_project(), kind="webhook", name="Down only")
    _window(started_ago=timedelta(minutes=2), lasts=timedelta(hours=1))

    assert route_maintenance_notices(now=timezone.now()) == []
    assert not Notification.objects.filter(channel=other).exists()


def test_an_occurrence_older_than_the_lookback_is_history_not_news(webhook_server):
    _listening(webhook_server)
    _window(started_ago=LOOKBACK + timedelta(minutes=1), lasts=timedelta(hours=1))

    assert route_maintenance_notices(now=timezone.now()) == []


def test_a_recurring_window_notices_each_occurrence_once(webhook_server):
    _listening(webhook_server, events=("maintenance_start",))
    _window(
        started_ago=timedelta(days=1, minutes=2), lasts=timedelta(minutes=30), rrule="FREQ=DAILY"
    )
    now = timezone.now()

    route_maintenance_notices(now=now)
    route_maintenance_notices(now=now)  # a second tick, or a second beat
    [today] = Notification.objects.all()
    assert today.key.endswith("-maintenance_start")
