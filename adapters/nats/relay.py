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
from orderflow.adapters.nats.envelope import Encoder, EventMessage, Outgoing, encode_message
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
from orderflow.event_log import PAGE

log = logging.getLogger("orderflow.streams")

SAVE_EVERY = 0.2  # seconds between position writes while acks keep coming
RETRY_PAUSE = 0.5  # seconds before starting afresh after trouble


class Trouble(Exception):
    """Something between the log and the server failed; start again from the acked position."""


def outgoing(engine: Engine, prefix: str, notification: Any) -> Outgoing:
    """The message for a stored event, decoded through the engine (the reference encoding)."""
    return encode_message(prefix, EventMessage.from_notification(engine, notification))


class LogFeed:
    """A thread following the event log from a position, handing pages of encoded events to the
    event loop (at most `pages` pages waiting)."""

    def __init__(
        self,
        engine: Engine,
        after: int,
        prefix: str,
        wait: PgListener | None,
        page: int = PAGE,
        pages: int = 2,
    ) -> None:
        self.engine, self.after, self.wait, self.page = engine, after, wait, page
        self.encoder = Encoder(engine, prefix)
        self.loop = asyncio.get_running_loop()
        self.ready: asyncio.Queue[list[Outgoing] | BaseException] = asyncio.Queue()
        self.slots = threading.Semaphore(pages)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, name="relay-feed", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        options = follow_options(self.wait)
        wait = options.get("wait") or (lambda timeout: self.stop.wait(timeout))
        idle, most = options["idle_timeout"], options["max_idle_timeout"]
        timeout = idle
        position = self.after
        select = self.engine.recorder.select_notifications
        encode = self.encoder.encode
        try:
            while not self.stop.is_set():
                batch = select(start=position, limit=self.page, inclusive_of_start=False)
                if not batch:
                    wait(timeout)
                    timeout = min(timeout * 2, most)
                    continue
                timeout = idle
                position = batch[-1].id
                self._put([encode(notification) for notification in batch])
        except BaseException as error:  # handed to the publisher, which starts afresh
            self._put(error)

    def _put(self, item: list[Outgoing] | BaseException) -> None:
        while not self.slots.acquire(timeout=0.1):
            if self.stop.is_set():
                return
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
            self.loop.call_soon_threadsafe(self.ready.put_nowait, item)

    def _taken(self, item: list[Outgoing] | BaseException) -> list[Outgoing]:
        self.slots.release()
        if isinstance(item, BaseException):
            raise Trouble(f"reading the event log failed: {item!r}") from item
        return item

    def take_nowait(self) -> list[Outgoing]:
        """A page if one is ready, else []."""
        try:
            return self._taken(self.ready.get_nowait())
        except asyncio.QueueEmpty:
            return []

    async def take(self) -> list[Outgoing]:
        """The next page, waiting for it."""
        return self._taken(await self.ready.get())

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
        feed = LogFeed(engine, acked, self.settings.subject_prefix, listener)
        ready: deque[Outgoing] = deque()
        inflight: deque[tuple[int, asyncio.Future[Any], float]] = deque()
        positions = PositionWriter(lambda position: self._save(ledger, lock, position), acked)
        next_page: asyncio.Task[list[Outgoing]] | None = None
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
                    await self._wait_for(inflight)
                    continue
                if not ready:
                    if next_page is not None and next_page.done():
                        page, next_page = next_page.result(), None
                    else:
                        page = feed.take_nowait() if next_page is None else []
                    ready.extend(page)
                room = most - len(inflight)
                if ready and room > 0:  # a full pipeline: never block inside publish_async
                    now = time.monotonic()
                    for _ in range(min(room, len(ready))):
                        item = ready.popleft()
                        future = await js.publish_async(
                            item.subject, item.payload, headers=item.headers
                        )
                        inflight.append((item.position, future, now))
                        self.stats.published += 1
                    continue
                if not ready and not inflight:
                    self.caught_up.set()
                if not ready and next_page is None:
                    next_page = asyncio.ensure_future(feed.take())
                await self._wait_for(inflight, None if ready else next_page)
        finally:
            for _, future, _ in inflight:
                future.cancel()  # frees its slot; the event is republished from `acked`
            if next_page is not None:
                next_page.cancel()
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

    async def _wait_for(
        self,
        inflight: deque[tuple[int, asyncio.Future[Any], float]],
        page: asyncio.Future[list[Outgoing]] | None = None,
    ) -> None:
        """Until the oldest publish is acked or the next page is ready (at most 0.25 s)."""
        waits: set[asyncio.Future[Any]] = {page} if page is not None else set()
        left = 0.25
        if inflight:
            position, future, sent = inflight[0]
            left = sent + self.settings.relay_ack_timeout - time.monotonic()
            if left <= 0:
                raise Trouble(
                    f"no ack for position {position} in {self.settings.relay_ack_timeout}s"
                )
            waits.add(future)
        await asyncio.wait(waits, timeout=min(left, 0.25), return_when=asyncio.FIRST_COMPLETED)

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
