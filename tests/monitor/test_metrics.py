"""GET /metrics over HTTP: a Bearer token, the user's monitors only, the engine for staff."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery, current_app
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from monitor.metrics import queue_length
from monitor.models import Check, MaintenanceWindow, Transition
from notifications.models import Notification
from sites.models import Site
from sites.services import site_create
from teams.services import personal_project_ensure
from teams.tokens import token_create
from tests.conftest import slack_channel
from tests.factories import alice_project

ENGINE = [
    "uptime_engine_checks_per_second",
    "uptime_engine_check_lateness_max_seconds",
    "uptime_engine_check_lateness_p99_seconds",
    "uptime_engine_overdue_monitors",
    "uptime_engine_broker_up",
    "uptime_engine_queue_messages",
    "uptime_engine_pending_notifications",
    "uptime_engine_oldest_pending_notification_age_seconds",
    "uptime_engine_pending_transitions",
]


@pytest.fixture
def client():
    return Client()


def scrape(client: Client, key: str) -> dict[str, list]:
    """{metric name: [samples]} of a scrape with this key, parsed back by prometheus_client."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = text_string_to_metric_families(response.content.decode())
    return {family.name: family.samples for family in families}


def by_id(samples: list, site: Site) -> list:
    return [s for s in samples if s.labels["id"] == str(site.pk)]


def value_of(samples: list, site: Site, **labels) -> float | None:
    found = [s.value for s in by_id(samples, site) if labels.items() <= s.labels.items()]
    assert len(found) <= 1
    return found[0] if found else None


@pytest.fixture
def mine(user):
    return site_create(project=alice_project(), url="http://127.0.0.1:9/", name="Shop")


@pytest.fixture
def theirs(db):
    bob = get_user_model().objects.create_user(username="bob", password="bob-pass-123")
    return site_create(project=personal_project_ensure(user=bob), url="http://127.0.0.1:9/b")


# --- Who may scrape ------------------------------------------------------------------------


def test_without_a_token_it_is_401_with_a_bearer_challenge(client, mine):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "uptime_monitor" not in response.content.decode()


def test_a_wrong_token_is_401(client, mine):
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer upt_not-a-real-key")

    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


def test_a_read_only_token_may_scrape(client, user, mine):
    _, key = token_create(user=user, name="prometheus", read_only=True)

    assert by_id(scrape(client, key)["uptime_monitor_state"], mine)


def test_only_the_users_projects_monitors_are_shown(client, token, mine, theirs):
    samples = scrape(client, token)

    for name in ("uptime_monitor_state", "uptime_monitor_last_check_timestamp_seconds"):
        ids = {s.labels["id"] for s in samples.get(name, [])}
        assert str(theirs.pk) not in ids
    assert {s.labels["id"] for s in samples["uptime_monitor_state"]} == {str(mine.pk)}


def test_a_user_who_is_not_staff_sees_no_engine_metrics(client, token, mine):
    samples = scrape(client, token)

    assert not [name for name in samples if name.startswith("uptime_engine")]


# --- Per monitor ---------------------------------------------------------------------------------


def test_a_monitor_that_is_up_has_its_figures_and_labels(client, token, mine):
    checked = timezone.now().replace(microsecond=0)
    expires = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    Site.objects.filter(pk=mine.pk).update(
        status="up", last_response_ms=250, last_checked_at=checked, cert_expires_at=expires
    )

    samples = scrape(client, token)

    [up] = by_id(samples["uptime_monitor_up"], mine)
    assert up.value == 1
    assert up.labels == {
        "id": str(mine.pk),
        "name": "Shop",
        "project": mine.project.name,
        "kind": "http",
    }
    assert value_of(samples["uptime_monitor_response_seconds"], mine) == 0.25
    assert value_of(samples["uptime_monitor_cert_expiry_timestamp_seconds"], mine) == (
        expires.timestamp()
    )
    assert value_of(samples["uptime_monitor_last_check_timestamp_seconds"], mine) == (
        checked.timestamp()
    )


def test_the_state_is_one_series_per_state_with_1_for_the_current_one(client, token, mine):
    Site.objects.filter(pk=mine.pk).update(status="degraded")

    states = by_id(scrape(client, token)["uptime_monitor_state"], mine)

    assert {s.labels["state"]: s.value for s in states} == {
        "unknown": 0,
        "up": 0,
        "degraded": 1,
        "down": 0,
        "paused": 0,
        "maintenance": 0,
    }


def test_a_down_monitor_is_0(client, token, mine):
    Site.objects.filter(pk=mine.pk).update(status="down")

    samples = scrape(client, token)

    assert value_of(samples["uptime_monitor_up"], mine) == 0
    assert value_of(samples["uptime_monitor_state"], mine, state="down") == 1


@pytest.mark.parametrize(
    "fields, state", [({"status": "unknown"}, "unknown"), ({"enabled": False}, "paused")]
)
def test_up_is_absent_while_unknown_or_paused(client, token, mine, fields, state):
    Site.objects.filter(pk=mine.pk).update(**{"status": "up", **fields})

    samples = scrape(client, token)

    assert value_of(samples.get("uptime_monitor_up", []), mine) is None
    assert value_of(samples["uptime_monitor_state"], mine, state=state) == 1


def test_a_monitor_in_maintenance_has_that_state_and_keeps_its_up(client, token, mine, theirs):
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        project=mine.project,
        title="Upgrade",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )
    other = site_create(project=mine.project, url="http://127.0.0.1:9/other")
    window.sites.set([mine])
    Site.objects.filter(pk__in=[mine.pk, other.pk]).update(status="up")

    samples = scrape(client, token)

    assert value_of(samples["uptime_monitor_state"], mine, state="maintenance") == 1
    assert value_of(samples["uptime_monitor_state"], other, state="up") == 1
    assert value_of(samples["uptime_monitor_up"], mine) == 1


def test_the_uptime_ratio_over_24_hours_is_a_fraction(client, token, mine):
    now = timezone.now()
    Site.objects.filter(pk=mine.pk).update(
        status="up", created_at=now - timedelta(days=2), status_changed_at=now - timedelta(days=2)
    )
    down_at = now - timedelta(hours=2)
    Transition.objects.create(site=mine, from_status="up", to_status="down", created_at=down_at)
    Transition.objects.create(
        site=mine, from_status="down", to_status="up", created_at=down_at + timedelta(hours=6 / 60)
    )

    samples = scrape(client, token)

    # 6 of 1,440 minutes down.
    ratio = value_of(samples["uptime_monitor_uptime_ratio"], mine, period="24h")
    assert ratio == pytest.approx(1 - 6 / 1440, abs=1e-6)


def test_a_monitor_without_a_name_is_labelled_with_its_target(client, token, user):
    site = site_create(project=alice_project(), url="http://127.0.0.1:9/unnamed")

    [state] = by_id(scrape(client, token)["uptime_monitor_state"], site)[:1]

    assert state.labels["name"] == "http://127.0.0.1:9/unnamed"


# --- The engine (staff) --------------------------------------------------------------------------


@pytest.fixture
def staff_key(user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    _, key = token_create(user=user, name="prometheus")
    return key


@pytest.fixture
def empty_queue():
    """The broker's default queue, emptied before and after (the suite's own broker folder)."""
    name = current_app.conf.task_default_queue
    with current_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(name)
        yield conn, name
        conn.default_channel.queue_purge(name)


def test_staff_see_every_engine_metric(client, staff_key, mine, empty_queue):
    samples = scrape(client, staff_key)

    assert [name for name in ENGINE if name not in samples] == []
    assert samples["uptime_engine_broker_up"][0].value == 1


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_the_queue_depth_counts_the_messages_waiting(client, staff_key, mine, empty_queue):
    conn, name = empty_queue
    for _ in range(3):
        current_app.send_task("monitor.tasks.run_checks", args=[[mine.pk]], connection=conn)

    [waiting] = scrape(client, staff_key)["uptime_engine_queue_messages"]

    assert (waiting.labels["queue"], waiting.value) == (name, 3)


def test_checks_per_second_are_counted_over_the_last_minute(client, staff_key, mine, empty_queue):
    now = timezone.now()
    for seconds_ago in (5, 20, 50, 70, 600):
        Check.objects.create(site=mine, up=True, checked_at=now - timedelta(seconds=seconds_ago))

    [rate] = scrape(client, staff_key)["uptime_engine_checks_per_second"]

    assert rate.value == pytest.approx(3 / 60)


def test_lateness_is_how_far_monitors_are_past_their_next_check(
    client, staff_key, mine, theirs, empty_queue
):
    now = timezone.now()
    Site.objects.filter(pk=mine.pk).update(next_check_at=now - timedelta(seconds=300))
    Site.objects.filter(pk=theirs.pk).update(next_check_at=now + timedelta(seconds=30))

    samples = scrape(client, staff_key)

    # Two monitors: the 99th percentile is the most overdue of them.
    assert samples["uptime_engine_check_lateness_max_seconds"][0].value == pytest.approx(300, 5)
    assert samples["uptime_engine_check_lateness_p99_seconds"][0].value == pytest.approx(300, 5)
    assert samples["uptime_engine_overdue_monitors"][0].value == 1


def test_pending_notifications_and_transitions_are_counted(client, staff_key, mine, empty_queue):
    channel = slack_channel(mine.project, "http://127.0.0.1:9/hook")
    long_ago = timezone.now() - timedelta(minutes=10)
    change = Transition.objects.create(site=mine, from_status="up", to_status="down")
    Transition.objects.create(
        site=mine, from_status="down", to_status="up", notification_status="sent"
    )
    for index, status in enumerate(["pending", "pending", "sent"]):
        Notification.objects.create(
            channel=channel,
            site=mine,
            transition=change,
            event="down",
            key=f"k{index}",
            status=status,
            created_at=long_ago,
        )

    samples = scrape(client, staff_key)

    assert samples["uptime_engine_pending_notifications"][0].value == 2
    assert samples["uptime_engine_pending_transitions"][0].value == 1
    age = samples["uptime_engine_oldest_pending_notification_age_seconds"][0].value
    assert age == pytest.approx(600, abs=5)


def test_a_broker_that_does_not_answer_is_reported_not_waited_for(refused_url, caplog):
    port = refused_url.rsplit(":", 1)[1].strip("/")
    app = Celery("down", broker=f"redis://127.0.0.1:{port}/0", set_as_current=False)
    started = time.monotonic()

    assert queue_length(app) == ("celery", None)
    print(f"gave up after {time.monotonic() - started:.2f} s")  # a figure, not an assert
    assert "could not read the broker's queue" in caplog.text


def test_quotes_backslashes_and_newlines_in_names_survive_the_format(client, token, mine):
    tricky = 'Shop "EU" \\ main\nline two'
    Site.objects.filter(pk=mine.pk).update(name=tricky)
    mine.project.name = 'Team "ops" \\'
    mine.project.save(update_fields=["name"])

    states = by_id(scrape(client, token)["uptime_monitor_state"], mine)

    assert {(s.labels["name"], s.labels["project"]) for s in states} == {(tricky, 'Team "ops" \\')}
