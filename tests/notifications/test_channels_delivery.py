"""Delivery to several channels at once: a Slack stand-in and a generic webhook stand-in.

One transition becomes one Notification per channel, each claimed, retried
and failed on its own: a failing channel never holds up or duplicates another.
"""

import importlib
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.utils import timezone

from monitor.models import Transition
from monitor.probe import ErrorKind, ProbeResult
from monitor.recording import record_results
from notifications import legacy
from notifications.delivery import ROUTED, deliver_transition
from notifications.models import Channel, Notification, NotificationAttempt
from notifications.tasks import sweep_pending_notifications
from sites.models import Site
from teams.models import Project
from teams.services import personal_project_ensure
from tests.factories import alice_project
from tests.notifications.helpers import (
    answer,
    bodies,
    deliver_each_pending,
    notifications_of,
    run_deliveries,
    texts,
)

Outcome = NotificationAttempt.Outcome
SLACK = "Slack stand-in"
WEBHOOK = "Webhook stand-in"


@pytest.fixture
def both(slack_server, webhook_server):
    """The Slack and the webhook stand-in, each a default channel of alice's project."""
    return slack_server, webhook_server


def webhook_answer(server, status=200, body="ok", headers=None) -> None:
    answer(server, status=status, body=body, headers=headers, path="/in")


def test_one_transition_is_one_message_at_each_channel(both, down_transition):
    slack, webhook = both
    answer(slack)
    webhook_answer(webhook)
    results = run_deliveries(down_transition.id)
    assert results == {SLACK: ("delivered", []), WEBHOOK: ("delivered", [])}
    assert len(slack.log) == 1 and len(webhook.log) == 1
    assert "https://example.com is down" in texts(slack)[0]
    [body] = bodies(webhook)
    assert (body["event"], body["severity"], body["statusCode"]) == ("down", "critical", 503)
    assert body["monitor"]["target"] == "https://example.com"
    assert body["dedupKey"] == f"uptime-{down_transition.site_id}-incident-{down_transition.id}"
    assert {n.status for n in notifications_of(down_transition.id)} == {"sent"}


def test_a_channel_failing_transiently_retries_while_the_other_is_delivered_once(
    both, down_transition
):
    slack, webhook = both
    answer(slack)
    webhook_answer(webhook, status=503, body="busy")
    webhook_answer(webhook, status=429, body="slow down", headers={"Retry-After": "40"})
    webhook_answer(webhook)
    results = run_deliveries(down_transition.id)
    assert results[SLACK] == ("delivered", [])
    result, countdowns = results[WEBHOOK]
    assert result == "delivered"
    assert len(countdowns) == 2 and countdowns[1] >= 40
    assert len(slack.log) == 1  # Slack's message is not sent again by the webhook's retries
    assert len(webhook.log) == 3
    webhook.check_assertions()
    by_channel = {
        name: list(
            NotificationAttempt.objects.filter(channel=f"{kind}: {name}")
            .order_by("id")
            .values_list("outcome", flat=True)
        )
        for kind, name in (("slack", SLACK), ("webhook", WEBHOOK))
    }
    assert by_channel == {
        SLACK: ["delivered"],
        WEBHOOK: ["retrying", "retrying", "delivered"],
    }
    assert Channel.objects.filter(enabled=True).count() == 2


def test_a_permanent_error_disables_only_that_channel_and_later_alerts_skip_it(
    both, site, make_transition
):
    slack, webhook = both
    answer(slack, status=404, body="no_service")
    webhook_answer(webhook)
    webhook_answer(webhook)
    first = make_transition(site)
    assert run_deliveries(first.id) == {SLACK: ("failed", []), WEBHOOK: ("delivered", [])}
    slack_channel = Channel.objects.get(kind="slack")
    assert slack_channel.enabled is False
    assert "404" in slack_channel.disabled_reason and "no_service" in slack_channel.disabled_reason
    assert Channel.objects.get(kind="webhook").enabled

    later = make_transition(site, to_status="up")
    # The disabled channel's message is recorded as skipped, saying why.
    assert run_deliveries(later.id) == {SLACK: ("skipped", []), WEBHOOK: ("delivered", [])}
    assert len(slack.log) == 1  # the disabled channel is not tried again
    assert len(webhook.log) == 2
    assert [b["event"] for b in bodies(webhook)] == ["down", "up"]


def test_a_notification_owed_to_a_channel_disabled_meanwhile_is_skipped_with_an_attempt(
    both, site, make_transition
):
    """Both alerts were routed before the 404 arrived: the second one is skipped, not sent."""
    slack, webhook = both
    answer(slack, status=404, body="no_service")
    slack.expect_request("/hook").respond_with_data("ok")  # never reached
    webhook.expect_request("/in").respond_with_data("ok")
    first, second = make_transition(site), make_transition(site)
    assert deliver_transition(first.id).outcome == ROUTED
    assert deliver_transition(second.id).outcome == ROUTED
    assert deliver_each_pending(first.id) == {SLACK: "failed", WEBHOOK: "delivered"}
    assert deliver_each_pending(second.id) == {SLACK: "skipped", WEBHOOK: "delivered"}
    assert len(slack.log) == 1 and len(webhook.log) == 2
    [skipped] = Notification.objects.filter(transition=second, channel__kind="slack")
    assert skipped.status == Notification.Status.SKIPPED
    attempt = skipped.tries.get()
    assert attempt.outcome == Outcome.SKIPPED and "disabled" in attempt.error


def test_a_later_alert_records_why_a_disabled_channel_was_skipped(both, site, make_transition):
    slack, webhook = both
    Channel.objects.filter(kind="slack").update(
        enabled=False, disabled_reason="Slack answered HTTP 404: no_service"
    )
    webhook_answer(webhook)
    later = make_transition(site)
    # The disabled channel's message is recorded as skipped, saying why.
    assert run_deliveries(later.id) == {SLACK: ("skipped", []), WEBHOOK: ("delivered", [])}
    skipped = NotificationAttempt.objects.filter(transition=later, outcome=Outcome.SKIPPED)
    assert any("disabled" in attempt.error for attempt in skipped)


def test_a_monitor_with_its_own_channels_uses_only_those(both, site, down_transition):
    slack, webhook = both
    own = Channel.objects.get(kind="webhook")
    own.is_default = False
    own.save()
    site.channels.add(own)
    webhook_answer(webhook)
    assert run_deliveries(down_transition.id) == {WEBHOOK: ("delivered", [])}
    assert slack.log == [] and len(webhook.log) == 1
    # Another monitor of the project still uses the default channels only.
    other = Site.objects.create(project=site.project, url="https://other.example")
    from monitor.models import Check

    check = Check.objects.create(
        site=other, checked_at=timezone.now(), up=False, status_code=500, error_kind="http_status"
    )
    transition = Transition.objects.create(
        site=other, check_result=check, from_status="up", to_status="down"
    )
    answer(slack)
    assert run_deliveries(transition.id) == {SLACK: ("delivered", [])}
    assert len(webhook.log) == 1


def test_a_channel_not_wanting_an_event_gets_nothing(both, site, make_transition):
    slack, webhook = both
    Channel.objects.filter(kind="webhook").update(events=["down"])
    answer(slack)
    up = make_transition(site, to_status="up")
    assert run_deliveries(up.id) == {SLACK: ("delivered", [])}
    assert webhook.log == [] and len(slack.log) == 1
    assert "is back up" in texts(slack)[0]


def test_a_transition_no_channel_wants_is_skipped(both, site, make_transition):
    slack, webhook = both
    Channel.objects.update(events=["down"])
    up = make_transition(site, to_status="up")
    assert run_deliveries(up.id) == ("skipped", [])
    up.refresh_from_db()
    assert up.notification_status == Transition.NotificationStatus.SKIPPED
    assert slack.log == [] and webhook.log == []


def test_an_escalation_channel_hears_nothing_when_the_monitor_goes_down(both, down_transition):
    slack, webhook = both
    Channel.objects.filter(kind="webhook").update(escalate_after_minutes=15)
    answer(slack)
    assert run_deliveries(down_transition.id) == {SLACK: ("delivered", [])}
    assert webhook.log == []


@pytest.mark.django_db(transaction=True)
def test_from_a_recorded_failure_each_channel_gets_exactly_one_message_one_failing_first(
    slack_server, webhook_server
):
    """Committed for real: recording queues routing, routing queues each delivery. The
    webhook's first answer is a 503; its retry is queued with a countdown (which the
    eager test setup runs at once) and sends it once; nothing is sent twice."""
    slack, webhook = slack_server, webhook_server
    slack.expect_request("/hook").respond_with_data("ok")
    webhook_answer(webhook, status=503, body="busy")
    webhook_answer(webhook)
    site = Site.objects.create(project=alice_project(), url="https://shop.example", name="Shop")
    record_results(
        [
            ProbeResult(
                up=False,
                checked_at=timezone.now(),
                status_code=503,
                error_kind=ErrorKind.HTTP_STATUS,
                error_message="HTTP 503 Service Unavailable",
                site_id=site.id,
            )
        ]
    )
    assert len(slack.log) == 1 and len(webhook.log) == 2
    webhook.check_assertions()
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    assert json.loads(webhook.log[1][0].get_data())["monitor"]["name"] == "Shop"
    # A later sweep finds nothing owed: no second message anywhere.
    Notification.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    sweep_pending_notifications()
    assert len(slack.log) == 1 and len(webhook.log) == 2


# --- SLACK_WEBHOOK_URL becomes a channel ----------------------------------------------------


ENV_URL = "http://127.0.0.1:9/services/T000/B000/ENVTOKEN"


def test_the_env_url_becomes_a_default_slack_channel_of_the_default_project_once(db, settings):
    project = alice_project()  # made before the variable was set
    assert not Channel.objects.exists()
    settings.SLACK_WEBHOOK_URL = ENV_URL
    channel = legacy.env_channel_ensure()
    assert (channel.project, channel.kind, channel.from_env) == (project, "slack", True)
    assert channel.secrets == {"url": ENV_URL} and "url" not in channel.config
    assert channel.is_default and channel.enabled
    assert set(channel.events) == set(Channel.DEFAULT_EVENTS)
    assert legacy.env_channel_ensure() is None  # once
    assert Channel.objects.count() == 1


def test_without_the_env_url_no_channel_is_made(db, settings):
    alice_project()
    assert settings.SLACK_WEBHOOK_URL == ""
    assert legacy.env_channel_ensure() is None
    assert not Channel.objects.exists()


def test_the_default_project_is_the_first_superusers_personal_project(db, settings):
    alice_project()  # older, not a superuser's
    boss = get_user_model().objects.create_superuser("boss", "boss@example.invalid", "pw-12345678")
    boss_project = personal_project_ensure(user=boss)
    settings.SLACK_WEBHOOK_URL = ENV_URL
    assert legacy.env_channel_ensure().project == boss_project


def test_on_an_empty_database_the_first_project_made_gets_the_env_channel(db, settings):
    settings.SLACK_WEBHOOK_URL = ENV_URL
    assert not Project.objects.exists()
    first = alice_project()
    [channel] = Channel.objects.all()
    assert (channel.project, channel.from_env) == (first, True)
    Project.objects.create(name="Second")
    assert Channel.objects.count() == 1


def test_the_migration_makes_the_env_channel_once(db, settings):
    migration = importlib.import_module(
        "notifications.migrations.0006_channel_from_slack_webhook_url"
    )
    project = alice_project()
    settings.SLACK_WEBHOOK_URL = ENV_URL
    migration.channel_from_env(apps, None)
    migration.channel_from_env(apps, None)
    [channel] = Channel.objects.all()
    assert (channel.project, channel.kind, channel.from_env) == (project, "slack", True)
    assert channel.secrets == {"url": ENV_URL}
    # The migration spells the events out; they are today's defaults.
    assert channel.events == list(Channel.DEFAULT_EVENTS)
    assert channel.name == legacy.NAME


def test_the_env_channel_delivers_to_the_env_url(db, settings, site, make_transition):
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        settings.SLACK_WEBHOOK_URL = server.url_for("/services/T000/B000/ENVTOKEN")
        legacy.env_channel_ensure()
        server.expect_request("/services/T000/B000/ENVTOKEN").respond_with_data("ok")
        assert run_deliveries(make_transition(site).id) == {legacy.NAME: ("delivered", [])}
        assert "is down" in texts(server)[0]
    finally:
        server.clear()
        server.stop()
