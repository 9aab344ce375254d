"""/metrics reads the broker's queue depth from a real Redis."""

import os

import pytest
import redis
from celery import Celery

from monitor.metrics import queue_length

pytestmark = pytest.mark.service


def test_on_redis_the_queue_depth_is_the_length_of_its_list():
    # A database of its own: the suite's workers consume from the service one.
    base = os.environ.get("UPTIME_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    url = base.rsplit("/", 1)[0] + "/14"
    redis.Redis.from_url(url).delete("celery")
    app = Celery("redis", broker=url, set_as_current=False)
    with app.connection_for_write() as conn:
        for _ in range(4):
            app.send_task("monitor.tasks.run_checks", args=[[1]], connection=conn)

    assert queue_length(app) == ("celery", 4)
    redis.Redis.from_url(url).delete("celery")
    assert queue_length(app) == ("celery", 0)
