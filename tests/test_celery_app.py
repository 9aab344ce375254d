"""The Celery app's start-up hooks (uptime/celery.py)."""

import pytest
from celery.signals import beat_embedded_init, worker_init

from uptime.celery import _freeze_start_up_objects


@pytest.mark.parametrize("signal", [worker_init, beat_embedded_init], ids=["worker", "beat"])
def test_the_worker_and_its_embedded_beat_freeze_what_start_up_loaded(signal):
    assert _freeze_start_up_objects in [ref() for _, ref in signal.receivers]
