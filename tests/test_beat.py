"""Beat's scheduler (uptime/beat.py) runs each entry when due without spinning."""

import time

import pytest

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
