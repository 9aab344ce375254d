"""From a recorded check to a Slack message: recording → signal → routing task →
delivery task (queued when routing commits) → transport."""

import logging

import pytest
from django.utils import timezone

from monitor.models import Transition
from monitor.probe import ErrorKind, ProbeResult
from monitor.recording import record_results
from notifications.models import Notification
from notifications.receivers import enqueue_notification
from sites.models import Site
from tests.factories import alice_project
from tests.notifications.helpers import answer, texts


def failure(site) -> ProbeResult:
    return ProbeResult(
        up=False,
        checked_at=timezone.now(),
        status_code=503,
        error_kind=ErrorKind.HTTP_STATUS,
        error_message="HTTP 503 Service Unavailable",
        site_id=site.id,
    )


def success(site) -> ProbeResult:
    return ProbeResult(up=True, checked_at=timezone.now(), status_code=200, site_id=site.id)


@pytest.fixture
def up_site(db):
    return Site.objects.create(
        project=alice_project(), url="https://shop.example", name="Shop", status=Site.Status.UP
    )


def test_a_site_going_down_then_up_sends_one_down_and_one_back_up_message(
    slack_server, up_site, django_capture_on_commit_callbacks
):
    answer(slack_server)
    answer(slack_server)
    with django_capture_on_commit_callbacks(execute=True):
        record_results([failure(up_site)])
    [down] = texts(slack_server)
    assert down.startswith("`Shop` (https://shop.example) is down (HTTP 503)")
    assert "Reason: HTTP 503 Service Unavailable" in down

    with django_capture_on_commit_callbacks(execute=True):
        record_results([success(up_site)])
    assert len(texts(slack_server)) == 2
    back = texts(slack_server)[1]
    assert back.startswith("`Shop` (https://shop.example) is back up")
    assert "It was down for" in back
    statuses = set(Transition.objects.values_list("notification_status", flat=True))
    assert statuses == {Transition.NotificationStatus.SENT}
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_a_repeated_failure_sends_nothing_more(
    slack_server, up_site, django_capture_on_commit_callbacks
):
    answer(slack_server)
    with django_capture_on_commit_callbacks(execute=True):
        record_results([failure(up_site)])
    with django_capture_on_commit_callbacks(execute=True):
        record_results([failure(up_site)])
    assert len(texts(slack_server)) == 1


def test_nothing_is_enqueued_before_the_recording_commits(
    slack_server, up_site, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record_results([failure(up_site)])
    assert callbacks and slack_server.log == []


@pytest.fixture
def broker_down():
    """Point the Celery app at a closed port on 127.0.0.1, with publishing not retried."""
    from uptime.celery import app

    saved = {
        key: app.conf[key]
        for key in (
            "task_always_eager",
            "broker_url",
            "task_publish_retry",
            "broker_connection_timeout",
        )
    }
    app.conf.update(
        task_always_eager=False,
        broker_url="redis://127.0.0.1:9/0",
        task_publish_retry=False,
        broker_connection_timeout=1,
    )
    app._after_fork()  # drop cached connection pools, so the next publish uses broker_url
    yield
    app.conf.update(saved)
    app._after_fork()


def test_when_the_broker_is_down_enqueueing_logs_and_leaves_it_to_the_sweeper(
    down_transition, broker_down, caplog
):
    enqueue_notification(down_transition.id)
    assert "the sweeper will send it" in caplog.text
    assert "Connection refused" in caplog.text or "Error 111" in caplog.text
    down_transition.refresh_from_db()
    assert down_transition.notification_status == Transition.NotificationStatus.PENDING
    assert caplog.records[-1].levelno == logging.ERROR
