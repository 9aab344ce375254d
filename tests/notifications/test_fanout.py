"""Routing a batch of transitions and sending their messages from the routing task
(notifications.fanout, notifications.outgoing), against local webhook stand-ins."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from monitor import curl
from monitor.models import Transition
from notifications import fanout
from notifications.models import Channel, Notification, NotificationAttempt
from sites.models import Site
from tests.factories import alice_project


@pytest.fixture
def stand_in():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    for path in ("/a", "/b"):
        server.expect_request(path, method="POST").respond_with_data("ok")
    yield server
    server.stop()


@pytest.fixture
def project(db):
    return alice_project()


def webhook(project, server: HTTPServer, name: str, **fields) -> Channel:
    return Channel.objects.create(
        project=project,
        kind="webhook",
        name=name,
        secrets={"url": server.url_for(f"/{name}")},
        **fields,
    )


@pytest.fixture
def down(project, make_transition):
    """Three monitors that went down together; their transitions' ids."""

    def make(count: int = 3) -> list[int]:
        sites = [
            Site.objects.create(
                project=project, url=f"https://s{n}.example", name=f"s{n}", status="down"
            )
            for n in range(count)
        ]
        return [make_transition(site).id for site in sites]

    return make


def arrivals(server: HTTPServer) -> list[tuple[str, int]]:
    """(path, monitor id) of each message, in the order they arrived."""
    return [
        (request.path, json.loads(request.get_data())["monitor"]["id"]) for request, _ in server.log
    ]


def route(transition_ids, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        fanout.route_many(transition_ids)


def test_a_batch_sends_one_message_per_channel_and_records_each(
    project, stand_in, down, django_capture_on_commit_callbacks
):
    webhook(project, stand_in, "a")
    webhook(project, stand_in, "b")
    ids = down()

    route(ids, django_capture_on_commit_callbacks)

    sites = set(Transition.objects.filter(id__in=ids).values_list("site_id", flat=True))
    assert sorted(arrivals(stand_in)) == sorted((p, s) for p in ("/a", "/b") for s in sites)
    rows = Notification.objects.filter(transition_id__in=ids)
    assert [row.status for row in rows] == ["sent"] * 6
    assert all(row.lease_until is None and row.attempts == 1 for row in rows)
    attempts = NotificationAttempt.objects.filter(transition_id__in=ids)
    assert sorted(a.outcome for a in attempts) == ["delivered"] * 6
    assert {a.channel for a in attempts} == {"webhook: a", "webhook: b"}
    assert set(
        Transition.objects.filter(id__in=ids).values_list("notification_status", flat=True)
    ) == {"sent"}


def test_every_monitors_first_channel_hears_before_any_monitors_second(
    project, stand_in, down, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(curl, "_many", curl._Many(1))  # one at a time: arrival order is send order
    webhook(project, stand_in, "a")
    webhook(project, stand_in, "b")

    route(down(4), django_capture_on_commit_callbacks)

    assert [path for path, _ in arrivals(stand_in)] == ["/a"] * 4 + ["/b"] * 4


def test_a_message_another_router_made_first_is_left_to_it(
    project, stand_in, down, django_capture_on_commit_callbacks
):
    a = webhook(project, stand_in, "a")
    webhook(project, stand_in, "b")
    (transition_id,) = down(1)
    transition = Transition.objects.get(id=transition_id)
    # Inserted and leased by a router whose lease is still running.
    Notification.objects.create(
        channel=a,
        site=transition.site,
        transition=transition,
        event="down",
        key=f"t{transition_id}",
        attempts=1,
        lease_until=timezone.now() + timedelta(minutes=2),
    )

    route([transition_id], django_capture_on_commit_callbacks)

    assert [path for path, _ in arrivals(stand_in)] == ["/b"]
    assert Notification.objects.filter(transition_id=transition_id).count() == 2
    assert Notification.objects.get(channel=a).status == "pending"


def test_a_disabled_channel_hears_nothing_and_says_why(
    project, stand_in, down, django_capture_on_commit_callbacks
):
    webhook(project, stand_in, "a", enabled=False, disabled_reason="HTTP 404")
    webhook(project, stand_in, "b")
    ids = down(2)

    route(ids, django_capture_on_commit_callbacks)

    assert [path for path, _ in arrivals(stand_in)] == ["/b", "/b"]
    skipped = Notification.objects.filter(channel__name="a")
    assert [row.status for row in skipped] == ["skipped", "skipped"]


def test_a_webhook_that_is_gone_fails_its_message_and_disables_the_channel(
    project, down, django_capture_on_commit_callbacks
):
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    server.expect_request("/a", method="POST").respond_with_data("no such hook", status=404)
    try:
        channel = webhook(project, server, "a")
        ids = down(1)

        route(ids, django_capture_on_commit_callbacks)
    finally:
        server.stop()

    assert Notification.objects.get(transition_id=ids[0]).status == "failed"
    channel.refresh_from_db()
    assert not channel.enabled
    assert "HTTP 404" in channel.disabled_reason
