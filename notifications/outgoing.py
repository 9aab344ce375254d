"""Sending many leased messages at once, each transition's first message first, and
recording the results together.

The caller holds the lease on every row it passes (notifications.fanout):
the message is built, the channel known. A kind whose message is one POST
(a webhook) goes out from the process's many-at-once sender (one thread
driving libcurl, monitor.curl.submit), any other kind from a pool of
threads. Both take the lowest `rank` first, so when a thousand monitors go
down at once every monitor's first alert leaves before any monitor's second
or third.
"""

import contextlib
import itertools
import json
import logging
import os
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from notifications import delivery, messages, transports
from notifications.models import Channel, Notification, NotificationAttempt
from notifications.transports.base import Sent, TransportError

log = logging.getLogger(__name__)

Outcome = NotificationAttempt.Outcome
# Threads sending at once for kinds that are not one POST (email, Telegram…).
SENDERS = 64
# How long a batch waits for its messages; well inside its lease (delivery.LEASE).
SEND_WAIT = 60.0
# How long second and third messages wait for other batches' routing, at most.
HOLD_AT_MOST = 5.0


@dataclass(frozen=True)
class Outgoing:
    """One message whose row this worker leased: where it goes and what it says."""

    notification_id: int
    transition_id: int | None
    channel: Channel
    message: messages.Message
    token: int  # the attempt count the lease was taken under
    rank: int = 0  # its place among its transition's messages: 0 goes out first

    def as_notification(self) -> Notification:
        """The row as delivery's failure handling needs it (no query)."""
        return Notification(
            id=self.notification_id,
            channel=self.channel,
            transition_id=self.transition_id,
            attempts=self.token,
        )


class _RankedPool:
    """Threads that run submitted calls, lowest rank first, then in submission order.

    concurrent.futures' pool is first come, first served: a batch's second
    messages would go before a later batch's first ones.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.queue: queue.PriorityQueue = queue.PriorityQueue()
        self.order = itertools.count()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.pid = 0

    def submit(self, rank: int, fn, item) -> Future:
        future: Future = Future()
        self._start()
        self.queue.put((rank, next(self.order), fn, item, future))
        return future

    def _start(self) -> None:
        # Started on first use in the process that sends (a forked child has
        # the list but not the threads).
        if len(self.threads) == self.size and self.pid == os.getpid():
            return
        with self.lock:
            if self.pid != os.getpid():
                self.pid, self.threads = os.getpid(), []
            while len(self.threads) < self.size:
                thread = threading.Thread(
                    target=self._run, name=f"notify-{len(self.threads)}", daemon=True
                )
                thread.start()
                self.threads.append(thread)

    def _run(self) -> None:
        while True:
            _, _, fn, item, future = self.queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(item))
            except Exception as exc:  # noqa: BLE001 (the waiting caller gets it)
                future.set_exception(exc)


_pool = _RankedPool(SENDERS)


class _Deciding:
    """How many routing batches this process is deciding: while any is, second and
    third messages wait, so the CPU goes to routing and first messages."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    @contextlib.contextmanager
    def __call__(self):
        with self.changed:
            self.count += 1
        try:
            yield
        finally:
            with self.changed:
                self.count -= 1
                self.changed.notify_all()

    def wait_until_none(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.count == 0, timeout=timeout)


deciding = _Deciding()


def send_all(outgoing: list[Outgoing]) -> list[tuple[Outgoing, Sent | TransportError, int]]:
    """Send every message; (item, Sent or error, ms) each, in the given order.

    A kind whose message is one POST (post_for) goes through the process's
    many-at-once sender (monitor.curl.submit), any other through a thread
    of its own; both take the lowest rank first. Messages of rank 1 and up
    start once no routing batch of this process is still being decided.
    """
    deadline = time.monotonic() + SEND_WAIT
    started = [_start(item) for item in outgoing if item.rank == 0]
    others = [item for item in outgoing if item.rank > 0]
    if others:
        deciding.wait_until_none(timeout=HOLD_AT_MOST)
        started += [_start(item) for item in others]
    finished = {id(item): _outcome(item, post, future, deadline) for item, post, future in started}
    return [finished[id(item)] for item in outgoing]


def _start(item: Outgoing) -> tuple[Outgoing, Any, Future | None]:
    """(item, its Post, the Future of its answer); (item, None, Future of the whole
    result) for a kind sent from a thread; (item, the error, None) if it cannot start."""
    post_for = getattr(transports.get(item.channel.kind), "post_for", None)
    if post_for is None:
        return item, None, _pool.submit(item.rank, _send_one, item)
    try:
        post = post_for(item.channel.settings, item.message)
    except Exception as exc:
        log.exception("Transport %s failed unexpectedly", item.channel.kind)
        return item, TransportError(f"Internal error: {exc}", permanent=False), None
    return item, post, post.start(timeout=delivery.POST_TIMEOUT, priority=item.rank)


def _outcome(item: Outgoing, post, future: Future | None, deadline: float):
    if future is None:  # post is the error
        return item, post, 0
    if post is None:  # a thread of its own: bounded by its own timeout
        return future.result()
    try:
        future.exception(timeout=max(deadline - time.monotonic(), 0))  # until it is done
    except TimeoutError:
        if future.cancel():  # still queued behind slow destinations: a later try sends it
            return (
                item,
                TransportError("Not sent in time: the sender was busy", permanent=False),
                None,
            )
        future.exception()  # under way: its own timeout (POST_TIMEOUT) ends it
    try:
        sent = post.outcome(future)
    except TransportError as exc:
        return item, exc, None
    return item, sent, round((sent.seconds or 0) * 1000)


def _send_one(item: Outgoing) -> tuple[Outgoing, Sent | TransportError, int]:
    channel = item.channel
    started = time.monotonic()
    try:
        sent = transports.get(channel.kind).send(
            channel.settings, item.message, timeout=delivery.POST_TIMEOUT
        )
    except TransportError as exc:
        return item, exc, _elapsed_ms(started)
    except Exception as exc:
        log.exception("Transport %s failed unexpectedly", channel.kind)
        return item, TransportError(f"Internal error: {exc}", permanent=False), 0
    return item, sent, _elapsed_ms(started)


def record(results: list[tuple[Outgoing, Sent | TransportError, int]], stamp) -> None:
    """Mark the delivered rows sent and store their attempts: three statements in all.
    Each failure goes through delivery's rules (retry, or fail and disable the channel).

    `stamp` is the lease the caller took: a row whose lease lapsed and was
    taken by another worker is that worker's to write.
    """
    now = timezone.now()
    delivered = [(item, sent, ms) for item, sent, ms in results if isinstance(sent, Sent)]
    failed = [(item, exc, ms) for item, exc, ms in results if isinstance(exc, TransportError)]
    if delivered:
        with transaction.atomic():
            Notification.objects.filter(
                id__in=[item.notification_id for item, _, _ in delivered],
                status=Notification.Status.PENDING,
                lease_until=stamp,
            ).update(status=Notification.Status.SENT, sent_at=now, lease_until=None)
            insert_rows(
                NotificationAttempt,
                (
                    "transition_id",
                    "notification_id",
                    "channel",
                    "attempted_at",
                    "outcome",
                    "status_code",
                    "error",
                    "duration_ms",
                ),
                [
                    (
                        item.transition_id,
                        item.notification_id,
                        f"{item.channel.kind}: {item.channel.name}"[:120],
                        now,
                        Outcome.DELIVERED.value,
                        sent.status_code,
                        "",
                        ms,
                    )
                    for item, sent, ms in delivered
                ],
            )
            # Health: one write per channel a minute, not one per message.
            Channel.objects.filter(id__in={item.channel.id for item, _, _ in delivered}).filter(
                Q(last_success_at__isnull=True) | Q(last_success_at__lt=now - timedelta(minutes=1))
            ).update(last_success_at=now)
    for item, exc, ms in failed:
        notification = item.as_notification()
        planned = delivery.failed_attempt(notification, item.token, exc, ms)
        if planned.outcome == Outcome.RETRYING:
            _retry_later(notification, planned)


def _retry_later(notification: Notification, planned: delivery.Delivery) -> None:
    from notifications.tasks import deliver_notification  # tasks import this module

    try:
        deliver_notification.apply_async(
            (notification.id,), {"lease_token": planned.lease_token}, countdown=planned.retry_in
        )
    except Exception:  # the lease runs out and the sweeper queues it
        log.exception("Could not queue the retry of notification %s", notification.id)


def insert_rows(model, columns: tuple[str, ...], rows: list[tuple], *, suffix: str = "") -> list:
    """INSERT `rows` (values in `columns` order) in one statement; return what `suffix`
    (… RETURNING …) returns. Values are plain: ints, strings, datetimes, dicts (JSON), None.

    Without the ORM, which builds a model instance per row. On PostgreSQL
    the rows travel as one JSON parameter: psycopg interpolates each
    parameter in Python, and 30,000 of them cost more than sending the messages.
    """
    if not rows:
        return []
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    names = ", ".join(q(column) for column in columns)
    returned = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            document = json.dumps(
                [dict(zip(columns, row, strict=True)) for row in rows], default=_iso
            )
            # Names come from the model and the caller's code; values are parameters.
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} "  # noqa: S608
                f"FROM json_populate_recordset(NULL::{table}, %s){suffix}",
                [document],
            )
            return cursor.fetchall() if suffix else []
        per_statement = max(1, (connection.features.max_query_params or 999) // len(columns))
        marks_of_row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(rows), per_statement):
            part = rows[start : start + per_statement]
            values = [_adapt(value) for row in part for value in row]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES "  # noqa: S608
                + ", ".join([marks_of_row] * len(part))
                + suffix,
                values,
            )
            if suffix:
                returned += cursor.fetchall()
    return returned


def _adapt(value):
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
