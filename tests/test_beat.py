"""Beat's scheduler (uptime/beat.py) runs each entry when due without spinning."""

import time

import pytest

from sites.services import site_create
from tests.factories import alice_project
from uptime.beat import Scheduler
from uptime.celery import app


@pytest.fixture
def scheduler(transactional_db):
    scheduler = Scheduler(app=app, lazy=False)
    sent: list[str] = []
    # The messages themselves are not what is tested here: count them instead.
    scheduler.apply_entry = lambda entry, producer=None: sent.append(entry.name)
    scheduler.sent = sent
    yield scheduler
    scheduler._finalize.cancel()  # its sync at exit would find the test database gone


def run_for(scheduler: Scheduler, seconds: float) -> int:
    """Beat's own loop (celery.beat.Service.start) for a while; returns its ticks."""
    ticks = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        interval = scheduler.tick()
        ticks += 1
        if interval and interval > 0:
            time.sleep(min(interval, max(end - time.monotonic(), 0)))
    return ticks


def test_the_dispatcher_is_sent_every_second(scheduler):
    run_for(scheduler, 2.5)

    assert 2 <= scheduler.sent.count("dispatch-due-checks") <= 3


def test_beat_sleeps_until_an_entry_is_due_instead_of_asking_again_and_again(scheduler):
    ticks = run_for(scheduler, 2.5)

    # One tick per entry sent plus one sleep after each: celery's 10 ms early
    # wake-up made it hundreds (a busy loop before every run).
    assert ticks <= 2 * len(scheduler.sent) + 4


@pytest.fixture
def not_eager():
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = True


def queued_tasks() -> list[tuple[str, list]]:
    """Take every message off the (test data dir's) broker queue: (task, args)."""
    taken = []
    with app.connection() as connection:
        queue = connection.SimpleQueue("celery")
        while queue.qsize():
            message = queue.get(timeout=1)
            taken.append((message.headers["task"], message.decode()[0]))
            message.ack()
        queue.close()
    return taken


def test_beat_claims_the_due_sites_itself_and_sends_only_their_checks(scheduler, not_eager):
    site = site_create(project=alice_project(), url="http://127.0.0.1:9/due")
    queued_tasks()  # whatever other tests left behind
    del scheduler.apply_entry  # send for real (to the test data dir's broker)

    scheduler.apply_entry(scheduler.schedule["dispatch-due-checks"], producer=scheduler.producer)

    site.refresh_from_db()
    assert site.claimed_at is not None
    claim = site.claimed_at.isoformat()
    assert queued_tasks() == [("monitor.tasks.run_checks", [[site.id], claim])]
