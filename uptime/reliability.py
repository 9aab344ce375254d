"""At-least-once tasks with a bound on redelivery.

Every task acknowledges its message only when it has finished (acks_late) and
hands it back if its worker process dies (reject_on_worker_lost), so a crash
or a SIGKILL never loses work. The other side of that is a message that kills
every worker that takes it: each redelivery is counted in the database, and
after MAX_REDELIVERIES the message is acknowledged and dropped with an error
in the log, while other work goes on. The first delivery writes nothing.

Tasks are idempotent, so a redelivered message changes nothing that is
already done: checks carry their claim (monitor.dispatch), notifications
claim their transition row (notifications.delivery).

A task that loses its database connection (PostgreSQL restarting) is retried
a few times with backoff instead of failing.
"""

import logging
from datetime import timedelta

from celery import Task
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from uptime.broker import LOCATIONS_QUEUE

log = logging.getLogger(__name__)

MAX_REDELIVERIES = 3
# Locations send their results and heartbeats to LOCATIONS_QUEUE, and may
# send nothing else: a task of another name arriving on it is refused, so a
# location's broker credentials cannot be used to start central work.
FROM_LOCATIONS = frozenset({"monitor.tasks.record_probes", "monitor.tasks.location_heartbeat"})
# Counts of messages that stopped coming back are forgotten after this.
FORGET_AFTER = timedelta(days=1)

_BUMP_SQL = """
INSERT INTO uptime_taskredelivery (key, task_name, redeliveries, first_seen, last_seen)
VALUES (%s, %s, 1, %s, %s)
ON CONFLICT (key) DO UPDATE SET
    redeliveries = uptime_taskredelivery.redeliveries + 1,
    last_seen = excluded.last_seen
RETURNING redeliveries
"""


def count_redelivery(key: str, task_name: str) -> int:
    """Record one more redelivery of the message `key`; return how many so far."""
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_BUMP_SQL, [key, task_name, now, now])
        (count,) = cursor.fetchone()
        cursor.execute(
            "DELETE FROM uptime_taskredelivery WHERE last_seen < %s", [now - FORGET_AFTER]
        )
    return count


class ReliableTask(Task):
    """The base class of every Uptime task (uptime.celery sets it)."""

    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (OperationalError, InterfaceError)
    retry_backoff = 2
    retry_backoff_max = 30
    retry_jitter = True
    max_retries = 5

    def __call__(self, *args, **kwargs):
        request = self.request
        if request.id is None:  # called as a function, not run from a message
            return super().__call__(*args, **kwargs)
        delivery = request.delivery_info or {}
        if delivery.get("routing_key") == LOCATIONS_QUEUE and self.name not in FROM_LOCATIONS:
            log.error("Refused task %s[%s] from the locations' queue", self.name, request.id)
            return None
        if not request.is_eager and delivery.get("redelivered"):
            key = f"{request.id}:{request.retries}"
            count = count_redelivery(key, self.name)
            if count > MAX_REDELIVERIES:
                log.error(
                    "Giving up task %s[%s]: its message came back %d times after its worker died",
                    self.name,
                    request.id,
                    count,
                )
                return None
            log.warning("Task %s[%s] redelivered (%d)", self.name, request.id, count)
        # Celery's tracer has set up the request already (id, retries, delivery
        # info); Task.__call__ would push a bare one over it.
        return self.run(*args, **kwargs)
