"""kombu's file-system broker, made safe for several processes at once.

kombu's own transport creates a message file under its final name and then
writes it, so a worker polling the folder can take the file while it is still
empty, fail to decode it and stop with "Unrecoverable error" (kombu issue
1551: https://github.com/celery/kombu/issues/1551). Here a message is written
under a name the readers' listing ignores and renamed into place once whole,
a reader claims a file by renaming it (exactly one reader wins), and a file
that is not a message is set aside with a warning instead of stopping the
consumer.

uptime/settings.py calls use_for_filesystem_urls(), so every filesystem://
URL in the process (CELERY_BROKER_URL's default) gets this transport.

kombu's Redis transport gets one change too (RedisTransport): a channel
that outlives its connection says so with a connection error. Celery's
worker, on losing Redis, first collects the connection (which detaches the
transport) and then closes it; when closing a channel in the collect timed
out (a read of a pending BRPOP, more likely on a busy machine), the second
close hands its unacknowledged messages back through the detached transport
and kombu failed with an AttributeError. Celery does not take that for a
connection error: "Unrecoverable error", and the worker exited, where it
should have reconnected. A late acknowledgement through such a channel
failed the same way. As a connection error, both are what they are: the
broker is gone, the messages are not handed back or acknowledged (a broker
that kept them redelivers them after the visibility timeout; tasks are
idempotent), and the worker reconnects.
"""

import itertools
import logging
import os
import uuid
from queue import Empty
from time import time_ns

from kombu import Queue, transport
from kombu.transport import filesystem
from kombu.transport import redis as kombu_redis
from kombu.utils.json import dumps, loads

# Where locations send their results and heartbeats (uptime.reliability).
LOCATIONS_QUEUE = "locations"
# How they send there: straight into the queue, declaring nothing (the
# central side declares it), so their broker user needs no more.
TO_CENTRAL = Queue(LOCATIONS_QUEUE, no_declare=True)

log = logging.getLogger(__name__)

_sequence = itertools.count()

# A name that never ends in ".<queue>.msg", so listings skip it until the
# rename. On the same folder, so os.replace is atomic.
PARTIAL_SUFFIX = ".partial"


class Channel(filesystem.Channel):
    """Whole-file writes, rename-to-claim reads, and no crash on a bad file."""

    def _put(self, queue: str, payload: dict, **kwargs) -> None:
        # Names sort in the order they were written: wall-clock nanoseconds,
        # then this process's own counter for two puts in the same tick (a
        # random part alone would order them by chance). Wall clock, not
        # monotonic, so messages left over from before a reboot stay first.
        name = f"{time_ns()}_{os.getpid()}_{next(_sequence):012d}_{uuid.uuid4().hex}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{uuid.uuid4()}{PARTIAL_SUFFIX}")
        try:
            with open(partial, "wb") as f:
                f.write(dumps(payload).encode())
            os.replace(partial, final)
        except OSError as exc:
            _remove_quietly(partial)
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str) -> dict:
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = self._claim(name)
            if claimed is None:
                continue  # another consumer took it first
            payload = self._read(claimed)
            if payload is not None:
                return payload
        raise Empty()

    def _claim(self, name: str) -> str | None:
        # A rename within one file system is atomic: of several consumers
        # racing for the file, exactly one succeeds. (kombu moves it to the
        # system temp folder, which may be another file system, where a move
        # is a copy and two consumers could both deliver the message.)
        claimed = os.path.join(self.processed_folder, name)
        try:
            os.replace(os.path.join(self.data_folder_in, name), claimed)
        except FileNotFoundError:
            return None
        return claimed

    def _read(self, path: str) -> dict | None:
        try:
            with open(path, "rb") as f:
                raw = f.read()
            payload = loads(raw.decode())
            self.Message(payload, channel=self)  # the shape the consumer needs
        except Exception as exc:  # noqa: BLE001 - any bad file, never the consumer's end
            self._set_aside(path, exc)
            return None
        if not self.store_processed:
            _remove_quietly(path)
        return payload

    def _set_aside(self, path: str, exc: Exception) -> None:
        rejected = os.path.join(self.rejected_folder, os.path.basename(path))
        try:
            os.makedirs(self.rejected_folder, exist_ok=True)
            os.replace(path, rejected)
        except OSError:
            _remove_quietly(path)
            rejected = "(deleted)"
        log.warning(
            "Skipped a malformed broker message %s (%s: %s); moved to %s",
            os.path.basename(path),
            type(exc).__name__,
            exc,
            rejected,
        )

    @property
    def rejected_folder(self) -> str:
        return self.transport_options.get(
            "rejected_folder", os.path.join(self.processed_folder, "rejected")
        )


class Transport(filesystem.Transport):
    Channel = Channel
    # kombu keeps the exchange bindings in class-level state; ours is separate
    # so the two transports never share a table within one process.
    global_state = filesystem.virtual.BrokerState()


class RedisChannel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection.client is None:  # detached by Connection.collect()
            raise kombu_redis.get_redis_ConnectionError()(
                "the broker connection this channel belonged to was closed"
            )
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(kombu_redis.Transport):
    """kombu's Redis transport, whose channels fail as a connection error
    once their connection is closed (the module's docstring says why)."""

    Channel = RedisChannel


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def use_for_filesystem_urls() -> None:
    """Resolve the filesystem:// scheme to this module's transport."""
    _resolve(("filesystem",), "Transport")


def use_for_redis_urls() -> None:
    """Resolve redis:// and rediss:// to RedisTransport."""
    _resolve(("redis", "rediss"), "RedisTransport")


def _resolve(schemes: tuple[str, ...], name: str) -> None:
    """Make URLs of these schemes use this module's transport `name`.

    kombu takes a URL's transport from its alias table only (a scheme may not
    name a module); an explicit broker_transport setting would outlive a
    change of broker_url to another scheme, so the alias is what changes.
    """
    for scheme in schemes:
        transport.TRANSPORT_ALIASES[scheme] = f"{__name__}:{name}"
        transport._transport_cache.pop(scheme, None)
