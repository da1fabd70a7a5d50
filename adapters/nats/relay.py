"""The relay: every stored event to JetStream, in log order, exactly once (de-duplicated by id).

How nothing is lost or duplicated:
- events are read from the event log (the outbox) in position order and published pipelined
  with `publish_async`, each with `Nats-Msg-Id` = the event id;
- the relay's position is stored in the engine's database only up to the highest position whose
  event, and every event before it, JetStream acknowledged; a restart resumes from there and the
  server drops re-published ids inside its duplicate window;
- any doubt (a timeout, an error ack, a dropped connection) throws the connection and every
  unacknowledged publish away and republishes from the acknowledged position on a fresh
  connection. nats-py's own reconnect is off on purpose: it would flush publishes buffered before
  the disconnect after the ones lost in the dead socket, out of log order;
- one relay per store and stream: a PostgreSQL advisory lock or a file lock next to the SQLite
  file; a second relay waits and takes over when the first dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from eventsourcing.persistence import PersistenceError
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import APIError, ServiceUnavailableError
from orderflow.adapters.nats.envelope import EventMessage, subject_for
from orderflow.adapters.nats.jetstream import (
    connect_until,
    ensure_stream,
    require_nats,
    require_shared_store,
    stream_config,
)
from orderflow.adapters.nats.ledger import Ledger, open_ledger
from orderflow.adapters.nats.locks import (
    LockLostError,
    PgListener,
    StoreLock,
    acquire,
    follow_options,
    store_lock,
)
from orderflow.adapters.settings import Settings

from orderflow.engine import Engine
from orderflow.errors import InvalidInputError
from orderflow.event_log import follow_log

log = logging.getLogger("orderflow.streams")

SAVE_EVERY = 0.2  # seconds between position writes while acks keep coming
RETRY_PAUSE = 0.5  # seconds before starting afresh after trouble


class Trouble(Exception):
    """Something between the log and the server failed; start again from the acked position."""


@dataclass(frozen=True)
class Outgoing:
    position: int
    subject: str
    payload: bytes
    headers: dict[str, str]


def outgoing(engine: Engine, prefix: str, notification: Any) -> Outgoing:
    message = EventMessage.from_notification(engine, notification)
    return Outgoing(
        notification.id,
        subject_for(prefix, notification.topic),
        message.to_json(),
        message.headers(),
    )


class LogFeed:
    """A thread following the event log from a position and handing encoded events to asyncio."""

    def __init__(
        self, engine: Engine, after: int, prefix: str, capacity: int, wait: PgListener | None
    ) -> None:
        self.engine, self.after, self.prefix, self.wait = engine, after, prefix, wait
        self.queue: queue.Queue[Outgoing | BaseException] = queue.Queue(maxsize=capacity)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, name="relay-feed", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            log_ = follow_log(
                self.engine.recorder, self.after, self.stop, **follow_options(self.wait)
            )
            for notification in log_:
                self._put(outgoing(self.engine, self.prefix, notification))
        except BaseException as error:  # handed to the publisher, which starts afresh
            self._put(error)

    def _put(self, item: Outgoing | BaseException) -> None:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def take(self, most: int, timeout: float) -> list[Outgoing]:
        """Up to `most` events: waits up to `timeout` for the first, then takes what is ready."""
        items: list[Outgoing] = []
        try:
            item = self.queue.get(timeout=timeout)
            while True:
                if isinstance(item, BaseException):
                    raise Trouble(f"reading the event log failed: {item!r}") from item
                items.append(item)
                if len(items) >= most:
                    break
                item = self.queue.get_nowait()
        except queue.Empty:
            pass
        return items

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


class PositionWriter:
    """Stores the acked position in a worker thread, one write at a time, without ever holding
    up publishing (a busy SQLite file can make a write wait for its lock)."""

    def __init__(self, save: Callable[[int], None], saved: int) -> None:
        self.save = save
        self.saved = saved
        self.task: asyncio.Future[int] | None = None
        self.last = time.monotonic()

    def offer(self, acked: int, idle: bool) -> None:
        """Start a write of `acked` when due; re-raise the previous write's failure."""
        if self.task is not None and self.task.done():
            task, self.task = self.task, None
            self.saved = task.result()  # LockLostError, PersistenceError: the caller starts afresh
        due = idle or time.monotonic() - self.last >= SAVE_EVERY
        if acked > self.saved and self.task is None and due:
            self.task = asyncio.ensure_future(asyncio.to_thread(self._write, acked))
            self.last = time.monotonic()

    def _write(self, position: int) -> int:
        self.save(position)
        return position

    async def flush(self, acked: int) -> None:
        """Wait for the write in progress, then store `acked` if it is newer."""
        if self.task is not None:
            task, self.task = self.task, None
            self.saved = await task
        if acked > self.saved:
            self.saved = await asyncio.to_thread(self._write, acked)

    async def settle(self) -> None:
        """Let a write in progress finish (it stores a position that was acked)."""
        if self.task is not None:
            with contextlib.suppress(Exception):
                await self.task
            self.task = None


@dataclass
class RelayStats:
    """Counters for logs, tests and benchmarks."""

    published: int = 0  # publishes sent, republished ones included
    stored: int = 0  # acks for new messages
    duplicates: int = 0  # acks saying the server already had the id
    restarts: int = 0  # times the relay started afresh from its acked position
    position: int = 0  # highest acked position, as stored
    started: float = field(default_factory=time.monotonic)


class Relay:
    """Relays the engine's event log to the JetStream stream named in the settings."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.url = require_nats(settings)
        require_shared_store(settings, engine)
        self.engine = engine
        self.name = f"relay:{settings.nats_stream}"
        self.stats = RelayStats()
        self.caught_up = threading.Event()  # set whenever every stored event has been acked

    # entry points -------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> None:
        """Relay until `stop` is set; without one, until SIGTERM / SIGINT (main thread only)."""
        if stop is None:
            stop = threading.Event()
            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, lambda *_: stop.set())  # type: ignore[union-attr]
        asyncio.run(self.run_async(stop))

    async def run_async(self, stop: threading.Event) -> None:
        owned = self.engine is None
        engine = self.engine if self.engine else await asyncio.to_thread(self.settings.open_engine)
        ledger = open_ledger(engine)
        lock = store_lock(self.settings.store_config(), self.name)
        listener = self._listener(engine)
        self._stopping = _async_event(stop)
        try:
            while not stop.is_set():
                if not await asyncio.to_thread(acquire, lock, stop, 0.5, self.name):
                    break
                try:
                    await self._relay_holding_lock(engine, ledger, lock, listener, stop)
                except LockLostError as error:
                    log.warning("%s: %s; waiting to take the lock again", self.name, error)
                finally:
                    await asyncio.to_thread(lock.release)
        finally:
            self._stopping.watcher.cancel()  # type: ignore[attr-defined]
            if listener is not None:
                listener.close()
            if owned:
                engine.close()

    def _listener(self, engine: Engine) -> PgListener | None:
        channel = getattr(engine.recorder, "channel_name", None)
        if self.settings.store_config().backend != "postgres" or not channel:
            return None
        return PgListener(self.settings.store_config(), channel)

    # holding the lock -----------------------------------------------------------------------
    async def _relay_holding_lock(
        self,
        engine: Engine,
        ledger: Ledger,
        lock: StoreLock,
        listener: PgListener | None,
        stop: threading.Event,
    ) -> None:
        acked = await self._start_position(ledger, lock, stop)
        self.stats.position = acked
        log.info("%s: relaying from position %d to %s", self.name, acked, self.url)
        while not stop.is_set():
            nc = await connect_until(self.url, "orderflow-relay", self._stopping, reconnect=False)
            if nc is None:
                return
            try:
                js = nc.jetstream(publish_async_max_pending=self.settings.relay_max_pending)
                await self._ensure_stream(js)
                acked = await self._publish(engine, ledger, lock, listener, nc, js, acked, stop)
            except (
                Trouble,
                nats.errors.Error,
                APIError,
                PersistenceError,
                OSError,
                TimeoutError,
            ) as error:
                self.stats.restarts += 1
                log.warning(
                    "%s: %s; republishing from position %d", self.name, _describe(error), acked
                )
                await asyncio.sleep(RETRY_PAUSE)
            finally:
                await _close(nc)

    async def _start_position(self, ledger: Ledger, lock: StoreLock, stop: threading.Event) -> int:
        while True:
            try:
                await asyncio.to_thread(ledger.create_tables)
                return await asyncio.to_thread(ledger.relay_position, self.name)
            except PersistenceError as error:
                if stop.is_set():
                    raise Trouble("stopped") from error
                log.warning("%s: database unavailable (%s); retrying", self.name, _describe(error))
                await asyncio.to_thread(lock.check)
                await asyncio.sleep(RETRY_PAUSE)

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            await ensure_stream(js, stream_config(self.settings))
        except ServiceUnavailableError as error:
            raise Trouble("JetStream not available yet") from error
        except APIError as error:
            raise InvalidInputError(
                "nats_stream", f"the server refused the stream config: {error.description}"
            ) from None

    # the pipeline -----------------------------------------------------------------------------
    async def _publish(
        self,
        engine: Engine,
        ledger: Ledger,
        lock: StoreLock,
        listener: PgListener | None,
        nc: NATS,
        js: JetStreamContext,
        acked: int,
        stop: threading.Event,
    ) -> int:
        """Publish from `acked` on until stopped; return the acked (and stored) position."""
        most = self.settings.relay_max_pending
        feed = LogFeed(engine, acked, self.settings.subject_prefix, most, listener)
        inflight: deque[tuple[int, asyncio.Future[Any], float]] = deque()
        positions = PositionWriter(lambda position: self._save(ledger, lock, position), acked)
        try:
            while True:
                if nc.is_closed:
                    raise Trouble("connection closed")
                acked = self._collect_acks(inflight, acked)
                positions.offer(acked, idle=not inflight)
                if stop.is_set():
                    if not inflight:
                        await positions.flush(acked)
                        return acked
                    await self._wait_for_head(inflight)
                    continue
                if len(inflight) >= most:  # a full pipeline: never block inside publish_async
                    await self._wait_for_head(inflight)
                    continue
                items = await asyncio.to_thread(
                    feed.take, most - len(inflight), 0.02 if inflight else 0.2
                )
                for item in items:
                    future = await js.publish_async(
                        item.subject, item.payload, headers=item.headers
                    )
                    inflight.append((item.position, future, time.monotonic()))
                self.stats.published += len(items)
                if not items and not inflight:
                    self.caught_up.set()
                elif inflight and not items:
                    await self._wait_for_head(inflight)
        finally:
            for _, future, _ in inflight:
                future.cancel()  # frees its slot; the event is republished from `acked`
            await asyncio.to_thread(feed.close)
            await positions.settle()

    def _collect_acks(
        self, inflight: deque[tuple[int, asyncio.Future[Any], float]], acked: int
    ) -> int:
        while inflight and inflight[0][1].done():
            position, future, _ = inflight.popleft()
            try:
                ack = future.result()
            except (APIError, nats.errors.Error) as error:  # e.g. NoStreamResponseError
                raise Trouble(
                    f"publish of position {position} not acknowledged: {_describe(error)}"
                ) from error
            if ack.duplicate:
                self.stats.duplicates += 1
            else:
                self.stats.stored += 1
            acked = position
        if inflight:
            self.caught_up.clear()
        return acked

    async def _wait_for_head(self, inflight: deque[tuple[int, asyncio.Future[Any], float]]) -> None:
        position, future, sent = inflight[0]
        left = sent + self.settings.relay_ack_timeout - time.monotonic()
        if left <= 0:
            raise Trouble(f"no ack for position {position} in {self.settings.relay_ack_timeout}s")
        await asyncio.wait({future}, timeout=min(left, 0.25))

    def _save(self, ledger: Ledger, lock: StoreLock, position: int) -> None:
        lock.check()
        ledger.save_relay_position(self.name, position)
        self.stats.position = position


def _async_event(stop: threading.Event) -> asyncio.Event:
    """An asyncio.Event set soon after the threading.Event is."""
    event = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            await asyncio.sleep(0.1)
        event.set()

    task = asyncio.get_running_loop().create_task(watch())
    event.watcher = task  # type: ignore[attr-defined]  # keep a reference
    return event


async def _close(nc: NATS) -> None:
    with contextlib.suppress(Exception):  # a dead connection cannot be closed politely
        await asyncio.wait_for(nc.close(), 2)


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
