"""Bounded redelivery: a message whose worker died comes back a few times, then stops."""

import pytest
from celery import shared_task

from monitor.tasks import location_heartbeat
from uptime.broker import LOCATIONS_QUEUE
from uptime.models import TaskRedelivery
from uptime.reliability import MAX_REDELIVERIES, count_redelivery

runs = []


@shared_task(name="tests.test_reliability.record_run")
def record_run(value: int) -> int:
    runs.append(value)
    return value


def run_as_worker(
    task, *args, redelivered: bool, task_id: str = "task-1", retries: int = 0, queue: str = "celery"
):
    """Run the task the way Celery's tracer does, with the message's delivery info."""
    task.push_request(
        id=task_id,
        retries=retries,
        is_eager=False,
        delivery_info={"redelivered": redelivered, "routing_key": queue},
    )
    try:
        return task(*args)
    finally:
        task.pop_request()


@pytest.fixture(autouse=True)
def _clear_runs():
    runs.clear()


def test_counts_are_per_message_and_retry(db):
    assert count_redelivery("a:0", "t") == 1
    assert count_redelivery("a:0", "t") == 2
    assert count_redelivery("a:1", "t") == 1
    assert TaskRedelivery.objects.get(key="a:0").redeliveries == 2


def test_a_first_delivery_writes_nothing(db):
    assert run_as_worker(record_run, 7, redelivered=False) == 7
    assert runs == [7]
    assert not TaskRedelivery.objects.exists()


def test_a_redelivered_message_runs_until_the_bound_then_is_given_up(db, caplog):
    results = [run_as_worker(record_run, n, redelivered=True) for n in range(MAX_REDELIVERIES + 2)]
    assert runs == list(range(MAX_REDELIVERIES))
    assert results[MAX_REDELIVERIES:] == [None, None]
    assert "Giving up task tests.test_reliability.record_run[task-1]" in caplog.text
    # Another message of the same task is not affected.
    assert run_as_worker(record_run, 99, redelivered=True, task_id="task-2") == 99


def test_a_retry_is_a_new_message_with_its_own_count(db):
    for _ in range(MAX_REDELIVERIES + 1):
        run_as_worker(record_run, 1, redelivered=True)
    assert run_as_worker(record_run, 2, redelivered=True, retries=1) == 2


def test_the_task_still_sees_its_own_request(db):
    seen = []

    @shared_task(bind=True, name="tests.test_reliability.see_request")
    def see_request(self):
        seen.append((self.request.id, self.request.retries))

    run_as_worker(see_request, redelivered=False, task_id="abc", retries=3)
    assert seen == [("abc", 3)]


def test_the_locations_queue_runs_only_results_and_heartbeats(db, caplog):
    """A location's broker credentials cannot start central work: on the
    queue locations write to, any other task is refused."""
    assert run_as_worker(record_run, 5, redelivered=False, queue=LOCATIONS_QUEUE) is None
    assert runs == []
    assert "Refused task tests.test_reliability.record_run" in caplog.text
    assert run_as_worker(record_run, 6, redelivered=False) == 6  # from its own queue it runs
    heartbeat = {"location": "nowhere", "hostname": "x", "sent_at": "2026-01-01T00:00:00+00:00"}
    # Allowed through (and then dropped by its own check: no such location).
    run_as_worker(location_heartbeat, heartbeat, "0" * 64, redelivered=False, queue=LOCATIONS_QUEUE)
    assert "dropped a heartbeat claiming to be from location 'nowhere'" in caplog.text
