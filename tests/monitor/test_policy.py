"""The alert-policy step (monitor.policy): dependencies and maintenance mute alerts.

Monitors are added through the API and checked against a real local HTTP
server; alerts go to the Slack stand-in through notifications.delivery, which
asks the policy before it sends.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitor.models import Transition
from monitor.policy import HOLD, MUTE, decide
from sites.models import Site
from teams.services import project_create
from tests.factories import alice
from tests.notifications.helpers import answer, deliver, deliver_owed, texts

Status = Transition.NotificationStatus


def add_monitor(api_client, url, **fields) -> int:
    response = api_client.post("/api/site", {"url": url, **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def serve(httpserver, path, status):
    httpserver.expect_request(path).respond_with_data("x", status=status)


def check(api_client, site_id):
    assert api_client.post(f"/api/check/{site_id}").status_code == 200


def latest(site_id, to_status="down") -> Transition:
    return Transition.objects.filter(site_id=site_id, to_status=to_status).latest("created_at")


@pytest.fixture
def parent_and_child(api_client, httpserver):
    """A switch and a server behind it; the server depends on the switch."""
    parent = add_monitor(api_client, httpserver.url_for("/switch"), name="switch")
    child = add_monitor(api_client, httpserver.url_for("/server"), dependsOn=parent)
    return parent, child


def test_a_child_down_while_its_parent_is_down_is_muted(
    api_client, httpserver, slack_server, parent_and_child
):
    parent, child = parent_and_child
    serve(httpserver, "/switch", 503)
    serve(httpserver, "/server", 503)
    answer(slack_server)
    check(api_client, parent)
    check(api_client, child)

    deliver(latest(parent).id)
    deliver(latest(child).id)

    assert latest(child).notification_status == Status.MUTED
    assert latest(child).attempts.get().error == "Suppressed: parent down (switch)"
    assert not latest(child).notifications.exists()  # muted before routing: no channel hears it
    [message] = texts(slack_server)  # one alert: the parent's, naming its dependents
    assert "switch" in message and "1 monitor depends on it" in message


def test_a_child_still_down_when_its_parent_recovers_is_alerted_then(
    api_client, httpserver, slack_server, parent_and_child
):
    parent, child = parent_and_child
    serve(httpserver, "/switch", 503)
    serve(httpserver, "/server", 503)
    check(api_client, parent)
    check(api_client, child)
    answer(slack_server)
    deliver(latest(parent).id)
    deliver(latest(child).id)

    httpserver.clear_all_handlers()
    serve(httpserver, "/switch", 200)
    serve(httpserver, "/server", 503)
    check(api_client, parent)
    answer(slack_server)
    answer(slack_server)
    # Delivering the parent's recovery releases the child's muted alert and
    # queues it (the suite runs tasks eagerly: it is routed at once); its
    # notification is then sent as a worker would.
    deliver(latest(parent, "up").id)
    deliver_owed()

    assert latest(child).notification_status == Status.SENT
    last_two = texts(slack_server)[-2:]
    assert any("switch" in text and "is back up" in text for text in last_two)
    assert any("/server" in text and "is down" in text for text in last_two)


def test_a_child_alert_waits_while_its_parent_failure_is_unconfirmed(
    api_client, httpserver, parent_and_child
):
    parent, child = parent_and_child
    Site.objects.filter(pk=parent).update(failure_threshold=3)
    serve(httpserver, "/switch", 503)
    serve(httpserver, "/server", 503)
    check(api_client, parent)  # one failure of three: not down yet
    check(api_client, child)

    verdict = decide(latest(child), now=timezone.now())
    assert verdict.action == HOLD and verdict.until > timezone.now()


def test_without_a_failing_parent_the_child_alert_goes_out(
    api_client, httpserver, slack_server, parent_and_child
):
    parent, child = parent_and_child
    serve(httpserver, "/switch", 200)
    serve(httpserver, "/server", 503)
    check(api_client, parent)
    check(api_client, child)
    answer(slack_server)
    deliver(latest(child).id)
    assert latest(child).notification_status == Status.SENT


def test_a_dependency_must_be_a_monitor_of_the_same_project(api_client, user):
    other = project_create(user=alice(), name="Other")
    elsewhere = add_monitor(api_client, "http://127.0.0.1:9/a", project=other.pk)
    response = api_client.post(
        "/api/site", {"url": "http://127.0.0.1:9/b", "dependsOn": elsewhere}, format="json"
    )
    assert response.status_code == 400
    assert "own project" in response.json()["dependsOn"][0]


def test_dependencies_cannot_loop(api_client):
    first = add_monitor(api_client, "http://127.0.0.1:9/1")
    second = add_monitor(api_client, "http://127.0.0.1:9/2", dependsOn=first)
    response = api_client.patch(f"/api/site/{first}", {"dependsOn": second}, format="json")
    assert response.status_code == 400 and "loop" in response.json()["dependsOn"][0]
    assert Site.objects.get(pk=first).depends_on_id is None


def test_an_unknown_dependency_is_400_naming_the_field(api_client):
    response = api_client.post(
        "/api/site", {"url": "http://127.0.0.1:9/", "dependsOn": 999}, format="json"
    )
    assert response.status_code == 400 and "dependsOn" in response.json()


def test_deleting_a_parent_leaves_its_children_independent(api_client, parent_and_child):
    parent, child = parent_and_child
    assert api_client.delete(f"/api/site/{parent}").status_code == 204
    assert Site.objects.get(pk=child).depends_on_id is None


# --- maintenance -----------------------------------------------------------------------


def test_a_down_inside_a_maintenance_window_is_muted(api_client, httpserver, slack_server):
    site = add_monitor(api_client, httpserver.url_for("/"))
    project = Site.objects.get(pk=site).project_id
    now = timezone.now()
    response = api_client.post(
        f"/api/projects/{project}/maintenance",
        {
            "title": "Deploy",
            "startsAt": (now - timedelta(minutes=5)).isoformat(),
            "endsAt": (now + timedelta(minutes=30)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert api_client.get(f"/api/site/{site}").json()["state"] == "maintenance"
    assert api_client.get("/api/site").json()["sites"][0]["state"] == "maintenance"
    serve(httpserver, "/", 503)
    check(api_client, site)

    assert decide(latest(site), now=timezone.now()).action == MUTE
    deliver(latest(site).id)
    assert latest(site).notification_status == Status.MUTED
    assert not latest(site).notifications.exists()
    assert texts(slack_server) == []
