"""Reminders and escalation (notifications.followups): on schedule, once each, never after an
acknowledgement, never for an incident nobody was told of; and, at the end, through the
tasks to a local Slack stand-in."""

import json
import math
import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_httpserver import HTTPServer

from monitor.models import MaintenanceWindow, Transition
from monitor.probe import ErrorKind, ProbeResult
from monitor.recording import record_results
from notifications import acks, followups, messages, routing
from notifications.models import Acknowledgement, Notification
from notifications.tasks_followups import send_followups as send_followups_task
from sites.models import Site
from tests.factories import alice, alice_project
from tests.notifications.incidents import channel, down_site

Status = Transition.NotificationStatus


@pytest.fixture
def project(db):
    return alice_project()


def tick(minutes_from_now: float = 0) -> list[int]:
    return followups.send_followups(now=timezone.now() + timedelta(minutes=minutes_from_now))


def owed(**filters) -> list[tuple[str, str, str]]:
    rows = Notification.objects.filter(**filters).order_by("id")
    return [(row.channel.name, row.event, row.key) for row in rows]


# Reminders ----------------------------------------------------------------


def test_no_reminder_before_the_first_period_ends(project):
    channel(project, remind_every_minutes=10)
    down_site(project, minutes_ago=9)

    assert tick() == []
    assert not Notification.objects.exists()


def test_a_reminder_comes_each_period_and_each_exists_once(project):
    channel(project, remind_every_minutes=10)
    site, incident = down_site(project, minutes_ago=10.5)

    first = tick()
    assert tick() == []  # the next tick, or a second beat, makes nothing more
    assert tick(5) == []
    second = tick(10)

    assert len(first) == len(second) == 1
    assert owed() == [
        ("ops", "reminder", f"t{incident.pk}-r1"),
        ("ops", "reminder", f"t{incident.pk}-r2"),
    ]
    reminder = Notification.objects.get(id=first[0])
    assert (reminder.site, reminder.transition) == (site, incident)
    assert reminder.status == Notification.Status.PENDING


def test_a_long_outage_gets_the_current_reminder_not_a_burst_of_missed_ones(project):
    channel(project, remind_every_minutes=10)
    _, incident = down_site(project, minutes_ago=65)

    tick()

    assert owed() == [("ops", "reminder", f"t{incident.pk}-r6")]


def test_each_channel_reminds_on_its_own_period(project):
    channel(project, "often", remind_every_minutes=5)
    channel(project, "rarely", remind_every_minutes=30)
    channel(project, "never")
    _, incident = down_site(project, minutes_ago=12)

    tick()

    assert owed() == [("often", "reminder", f"t{incident.pk}-r2")]


def test_a_channel_that_does_not_want_reminders_gets_none(project):
    channel(project, remind_every_minutes=5, events=[messages.DOWN, messages.UP])
    down_site(project, minutes_ago=12)

    assert tick() == []


def test_a_disabled_channel_gets_none(project):
    channel(project, remind_every_minutes=5, enabled=False, disabled_reason="Slack said 404")
    down_site(project, minutes_ago=12)

    assert tick() == []


def test_a_monitor_with_its_own_channels_is_reminded_there_only(project):
    channel(project, "default", remind_every_minutes=5)
    own = channel(project, "own", remind_every_minutes=5, is_default=False)
    mine, incident = down_site(project, minutes_ago=6)
    own.sites.add(mine)
    down_site(project, minutes_ago=6)  # uses the project's defaults

    tick()

    assert sorted(owed(site=mine)) == [("own", "reminder", f"t{incident.pk}-r1")]
    assert [name for name, _, _ in owed()].count("default") == 1


def test_a_monitor_whose_own_channel_is_disabled_does_not_fall_back_to_the_defaults(project):
    channel(project, "default", remind_every_minutes=5)
    own = channel(project, "own", remind_every_minutes=5, is_default=False, enabled=False)
    site, _ = down_site(project, minutes_ago=6)
    own.sites.add(site)

    assert tick() == []


def test_the_bulk_channel_lookup_agrees_with_routing(project):
    reminding = channel(project, "default", remind_every_minutes=5)
    own = channel(project, "own", remind_every_minutes=5, is_default=False)
    off = channel(project, "off", remind_every_minutes=5, is_default=False, enabled=False)
    sites = [down_site(project)[0] for _ in range(3)]
    own.sites.add(sites[1])
    off.sites.add(sites[2])

    found = followups.channels_by_site(sites)

    assert found == {site.pk: [c for c in routing.channels_of(site) if c.enabled] for site in sites}
    assert found == {sites[0].pk: [reminding], sites[1].pk: [own], sites[2].pk: []}


def test_reminders_stop_once_acknowledged(project):
    channel(project, remind_every_minutes=10)
    site, incident = down_site(project, minutes_ago=11)
    tick()
    acks.acknowledge(site=site, actor=alice(), via=Acknowledgement.Via.PAGE)

    assert tick(10) == []
    assert tick(60) == []
    assert owed() == [("ops", "reminder", f"t{incident.pk}-r1")]


@pytest.mark.parametrize(
    "status", [Status.MUTED, Status.WITHHELD, Status.SKIPPED, Status.FAILED, Status.PENDING]
)
def test_an_incident_that_was_not_announced_is_never_followed_up(project, status):
    channel(project, remind_every_minutes=5)
    channel(project, "pager", escalate_after_minutes=5)
    down_site(project, minutes_ago=60, status=status)

    assert tick() == []
    assert not Notification.objects.exists()


def test_a_site_that_recovered_or_was_paused_is_not_followed_up(project):
    channel(project, remind_every_minutes=5)
    recovered, _ = down_site(project, minutes_ago=30)
    paused, _ = down_site(project, minutes_ago=30)
    Site.objects.filter(pk=recovered.pk).update(status=Site.Status.UP)
    Site.objects.filter(pk=paused.pk).update(enabled=False)

    assert tick() == []


def test_only_the_current_incident_is_followed_up(project):
    channel(project, remind_every_minutes=10)
    site, old = down_site(project, minutes_ago=90)
    Transition.objects.create(
        site=site,
        from_status="down",
        to_status="up",
        created_at=timezone.now() - timedelta(minutes=80),
        notification_status=Status.SENT,
    )
    new = Transition.objects.create(
        site=site,
        from_status="up",
        to_status="down",
        created_at=timezone.now() - timedelta(minutes=25),
        notification_status=Status.SENT,
    )

    tick()

    assert owed() == [("ops", "reminder", f"t{new.pk}-r2")]


def test_a_monitor_in_maintenance_gets_no_reminder(project):
    channel(project, remind_every_minutes=5)
    down_site(project, minutes_ago=30)
    now = timezone.now()
    MaintenanceWindow.objects.create(
        project=project,
        title="Upgrade",
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
    )

    assert tick() == []


# Escalation ---------------------------------------------------------------


def test_an_unacknowledged_incident_escalates_after_n_minutes_once(project):
    channel(project, "pager", escalate_after_minutes=15)
    _, incident = down_site(project, minutes_ago=14)

    assert tick() == []
    escalated = tick(1)
    assert tick(30) == []

    assert len(escalated) == 1
    assert owed() == [("pager", "escalation", f"t{incident.pk}-esc")]


def test_an_acknowledged_incident_never_escalates(project):
    channel(project, "pager", escalate_after_minutes=15)
    site, _ = down_site(project, minutes_ago=5)
    acks.acknowledge(site=site, actor=alice(), via=Acknowledgement.Via.API)

    assert tick(60) == []


def test_an_escalation_channel_gets_no_reminders_and_no_first_alert(project):
    channel(project, "pager", escalate_after_minutes=60, remind_every_minutes=5)
    site, incident = down_site(project, minutes_ago=30)

    assert routing.route_transition(incident) == []
    assert tick() == []


def test_the_recovery_is_announced_to_the_escalated_channel_only(project):
    channel(project, "ops")
    channel(project, "pager", escalate_after_minutes=10)
    escalated, incident = down_site(project, minutes_ago=20)
    quiet, _ = down_site(project, minutes_ago=5)
    tick()
    assert owed() == [("pager", "escalation", f"t{incident.pk}-esc")]
    Notification.objects.filter(event="escalation").update(status="sent")  # as delivery does

    recovery = Transition.objects.create(site=escalated, from_status="down", to_status="up")
    calm = Transition.objects.create(site=quiet, from_status="down", to_status="up")
    routing.route_transition(recovery)
    routing.route_transition(calm)

    assert owed(transition=recovery) == [
        ("ops", "up", f"t{recovery.pk}"),
        ("pager", "up", f"t{recovery.pk}"),
    ]
    assert owed(transition=calm) == [("ops", "up", f"t{calm.pk}")]


def test_an_escalation_skipped_after_an_ack_brings_no_recovery_to_that_channel(project):
    channel(project, "ops")
    channel(project, "pager", escalate_after_minutes=10)
    site, _ = down_site(project, minutes_ago=20)
    tick()
    # Acknowledged before it went out: delivery skipped it, the pager heard nothing.
    Notification.objects.filter(event="escalation").update(status="skipped")

    recovery = Transition.objects.create(site=site, from_status="down", to_status="up")
    routing.route_transition(recovery)

    assert owed(transition=recovery) == [("ops", "up", f"t{recovery.pk}")]


# Cost ---------------------------------------------------------------------


def down_sites_in_bulk(project, count: int, *, minutes_ago: float) -> None:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    sites = Site.objects.bulk_create(
        Site(project=project, url=f"https://s{i}.example.invalid", status=Site.Status.DOWN)
        for i in range(count)
    )
    Transition.objects.bulk_create(
        Transition(
            site=site,
            from_status="up",
            to_status="down",
            created_at=at,
            notification_status=Status.SENT,
        )
        for site in sites
    )


def test_a_tick_with_nothing_down_costs_one_query(project, django_assert_num_queries):
    channel(project, remind_every_minutes=5)

    with django_assert_num_queries(1):
        assert tick() == []


def counted(run) -> tuple[object, int, int]:
    """run()'s result, its queries other than inserts, and its inserts."""
    with CaptureQueriesContext(connection) as captured:
        result = run()
    inserts = sum(q["sql"].lstrip().upper().startswith("INSERT") for q in captured.captured_queries)
    return result, len(captured.captured_queries) - inserts, inserts


def insert_batches(rows: int) -> int:
    # One INSERT on PostgreSQL; SQLite's limit on variables per statement splits it.
    fields = [f for f in Notification._meta.concrete_fields if not f.primary_key]
    per_batch = connection.ops.bulk_batch_size(fields, [None] * rows) or rows
    return math.ceil(rows / per_batch)


def test_a_tick_with_a_thousand_down_sites_costs_a_few_queries_whatever_is_due(project):
    channel(project, "ops", remind_every_minutes=10)
    channel(project, "pager", escalate_after_minutes=30)
    down_sites_in_bulk(project, 1000, minutes_ago=11)

    made, reads, inserts = counted(tick)  # 1000 first reminders due
    assert (len(made), reads, inserts) == (1000, 6, insert_batches(1000))

    made, reads, inserts = counted(tick)  # the next tick: all already made
    assert (made, reads, inserts) == ([], 4, 0)

    made, reads, inserts = counted(lambda: tick(20))  # 1000 second reminders, 1000 escalations
    assert (len(made), reads, inserts) == (2000, 6, insert_batches(2000))
    assert Notification.objects.count() == 3000


# Through the tasks to a Slack stand-in --------------------------------------


@pytest.fixture
def stand_in():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


def received(server, path: str) -> list[str]:
    return [json.loads(r.get_data())["text"] for r, _ in server.log if r.path == path]


def failure(site, at) -> ProbeResult:
    return ProbeResult(
        up=False,
        checked_at=at,
        status_code=503,
        site_id=site.id,
        error_kind=ErrorKind.HTTP_STATUS,
        error_message="HTTP 503 Service Unavailable",
    )


def success(site, at) -> ProbeResult:
    return ProbeResult(up=True, checked_at=at, status_code=200, site_id=site.id)


def test_reminders_escalation_and_recovery_reach_the_stand_in(
    project, stand_in, django_capture_on_commit_callbacks
):
    stand_in.expect_request("/ops", method="POST").respond_with_data("ok")
    stand_in.expect_request("/pager", method="POST").respond_with_data("ok")
    channel(project, "ops", remind_every_minutes=10, secrets={"url": stand_in.url_for("/ops")})
    channel(
        project, "pager", escalate_after_minutes=25, secrets={"url": stand_in.url_for("/pager")}
    )
    site = Site.objects.create(
        project=project, url="https://shop.example.invalid", name="Shop", status=Site.Status.UP
    )
    start = timezone.now()

    def at(minutes: float):
        return time_machine.travel(start + timedelta(minutes=minutes), tick=False)

    with at(0), django_capture_on_commit_callbacks(execute=True):
        record_results([failure(site, start)])
    with at(5), django_capture_on_commit_callbacks(execute=True):
        send_followups_task.delay()
    with at(11), django_capture_on_commit_callbacks(execute=True):
        send_followups_task.delay()
        send_followups_task.delay()  # a second beat's tick changes nothing
    with at(26), django_capture_on_commit_callbacks(execute=True):
        send_followups_task.delay()

    ops, pager = received(stand_in, "/ops"), received(stand_in, "/pager")
    assert len(ops) == 3
    assert "is down" in ops[0]
    assert "still down" in ops[1] and "still down" in ops[2]
    incident = Transition.objects.get(to_status="down")
    # Each reminder carries a working acknowledgement link for this incident.
    base = re.escape(settings.UPTIME_BASE_URL.rstrip("/") + "/ack/")
    tokens = [re.search(base + r"([\w:.-]+)", text).group(1) for text in ops[1:]]
    assert [acks.transition_id_from_link(t) for t in tokens] == [incident.pk, incident.pk]
    assert len(pager) == 1 and "nobody has acknowledged" in pager[0]

    site.refresh_from_db()
    with at(27), django_capture_on_commit_callbacks(execute=True):
        acks.acknowledge(site=site, actor=alice(), via=Acknowledgement.Via.LINK)
    with at(45), django_capture_on_commit_callbacks(execute=True):
        send_followups_task.delay()
    assert len(received(stand_in, "/ops")) == 3  # acknowledged: no more reminders

    with at(50), django_capture_on_commit_callbacks(execute=True):
        record_results([success(site, start + timedelta(minutes=50))])
    ops, pager = received(stand_in, "/ops"), received(stand_in, "/pager")
    assert len(ops) == 4 and "back up" in ops[3]
    assert len(pager) == 2 and "back up" in pager[1]
    assert "alice" in ops[3]
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_a_reminder_made_before_the_acknowledgement_is_not_sent_after_it(
    project, stand_in, django_capture_on_commit_callbacks
):
    stand_in.expect_request("/ops", method="POST").respond_with_data("ok")
    channel(project, "ops", remind_every_minutes=10, secrets={"url": stand_in.url_for("/ops")})
    site, _ = down_site(project, minutes_ago=11)
    [reminder] = tick()  # made, its delivery not yet run (no commit here)
    acks.acknowledge(site=site, actor=alice(), via=Acknowledgement.Via.API)

    with django_capture_on_commit_callbacks(execute=True):
        routing.enqueue_after_commit([reminder])

    assert received(stand_in, "/ops") == []
    assert Notification.objects.get(id=reminder).status == Notification.Status.SKIPPED


def test_beat_runs_the_task_every_followup_period():
    entry = settings.CELERY_BEAT_SCHEDULE["send-followups"]

    assert entry["task"] == send_followups_task.name == "notifications.tasks.send_followups"
    assert entry["schedule"] == float(settings.UPTIME_FOLLOWUP_EVERY) == 60.0
    assert "notifications.tasks_followups" in settings.CELERY_IMPORTS


def test_a_project_without_follow_up_channels_is_not_read(project):
    channel(project, "ops")  # neither reminds nor escalates
    down_sites_in_bulk(project, 5, minutes_ago=120)

    assert followups.unacknowledged_incidents() == []
