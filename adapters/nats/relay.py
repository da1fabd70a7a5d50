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
import json
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import nats.errors
from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
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
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

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


Row = tuple[int, str, int, str, bytes]  # position, aggregate id (UUID text), version, topic, state
PageReader = Callable[[int, int], list[Row]]


def page_reader(engine: Engine) -> PageReader:
    """Reads up to `limit` stored events after a position, oldest first, as plain column tuples.

    The same rows, in the same order, as the recorder's `select_notifications`, without making a
    Notification and a UUID object per row (a third of the relay's reading cost). Recorders this
    does not know are read through `select_notifications`.
    """
    recorder = engine.recorder
    if isinstance(recorder, SQLiteApplicationRecorder):
        return _sqlite_reader(recorder)
    if isinstance(recorder, PostgresApplicationRecorder):
        return _postgres_reader(recorder)

    def read(after: int, limit: int) -> list[Row]:
        rows = recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
        return [(n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in rows]

    return read


def _sqlite_reader(recorder: SQLiteApplicationRecorder) -> PageReader:
    statement = (
        "SELECT rowid, originator_id, originator_version, topic, state"
        f" FROM {recorder.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )

    def read(after: int, limit: int) -> list[Row]:
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (after, limit))
            rows = cursor.fetchall()
        return [(p, _uuid_text(i), v, t, s) for p, i, v, t, s in rows]

    return read


def _uuid_text(stored: str) -> str:
    """An originator id as SQLite stores it (32 hex digits) in the usual 8-4-4-4-12 form."""
    if len(stored) == 32:
        return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}"
    return str(UUID(stored))


def _postgres_reader(recorder: PostgresApplicationRecorder) -> PageReader:
    datastore = recorder.datastore
    statement = SQL(
        "SELECT notification_id, originator_id::text, originator_version, topic, state"
        " FROM {}.{} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    ).format(Identifier(datastore.schema), Identifier(recorder.events_table_name))

    def read(after: int, limit: int) -> list[Row]:
        with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(statement, (after, limit), prepare=True)
            return cursor.fetchall()

    return read


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
        read = page_reader(self.engine)
        encode = self.encoder.encode_row
        try:
            while not self.stop.is_set():
                rows = read(position, self.page)
                if not rows:
                    wait(timeout)
                    timeout = min(timeout * 2, most)
                    continue
                timeout = idle
                position = rows[-1][0]
                self._put([encode(*row) for row in rows])
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


class AckInbox:
    """The acks of the relay's publishes, by log position.

    JetStream answers a publish on its reply subject; each publish here replies to
    `<inbox>.<position>`, one subscription takes every answer, and the publisher collects them
    in log order. The same request / reply as nats-py's `publish_async`, without a random token,
    a future and a semaphore per message. A fresh inbox per connection: an answer to a publish
    made on an abandoned connection can never be taken for one made now.
    """

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.results: dict[int, bool] = {}  # position -> duplicate?
        self.failure = ""  # the first error answer
        self.arrived = asyncio.Event()
        self.prefix = ""

    async def open(self, nc: NATS) -> None:
        self.prefix = nc.new_inbox()
        await nc.subscribe(f"{self.prefix}.*", cb=self._answer)

    def reply(self, position: int) -> str:
        return f"{self.prefix}.{position}"

    async def _answer(self, msg: Msg) -> None:
        position = int(msg.subject.rpartition(".")[2])
        duplicate, error = _read_ack(msg, self.stream)
        if error:
            self.failure = self.failure or f"publish of position {position}: {error}"
        else:
            self.results[position] = duplicate
        self.arrived.set()


def _read_ack(msg: Msg, stream: str) -> tuple[bool, str]:
    """(duplicate?, why the answer is not an ack for `stream`: '' when it is one)."""
    headers = msg.headers or {}
    if headers.get("Status"):  # 503: no responders (JetStream not there / not ready yet)
        return False, f"status {headers['Status']} {headers.get('Description', '')}".strip()
    try:
        body = json.loads(msg.data)
    except ValueError:
        return False, f"unreadable answer {msg.data[:100]!r}"
    if not isinstance(body, dict) or "error" in body:
        return False, f"error answer {body.get('error') if isinstance(body, dict) else body}"
    if body.get("stream") != stream or not isinstance(body.get("seq"), int):
        return False, f"unexpected answer {body}"
    return body.get("duplicate") is True, ""


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
                    signal.signal(sig, lambda *_: stop.set())
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
            ledger.close()
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
                await self._ensure_stream(nc.jetstream())
                acked = await self._publish(engine, ledger, lock, listener, nc, acked, stop)
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
        acked: int,
        stop: threading.Event,
    ) -> int:
        """Publish from `acked` on until stopped; return the acked (and stored) position."""
        most = self.settings.relay_max_pending
        acks = AckInbox(self.settings.nats_stream)
        await acks.open(nc)
        feed = LogFeed(engine, acked, self.settings.subject_prefix, listener)
        ready: deque[Outgoing] = deque()
        inflight: deque[tuple[int, float]] = deque()  # (position, sent at), in log order
        positions = PositionWriter(lambda position: self._save(ledger, lock, position), acked)
        next_page: asyncio.Task[list[Outgoing]] | None = None
        try:
            while True:
                if nc.is_closed:
                    raise Trouble("connection closed")
                acked = self._collect_acks(acks, inflight, acked)
                positions.offer(acked, idle=not inflight)
                if stop.is_set():
                    if not inflight:
                        await positions.flush(acked)
                        return acked
                    await self._wait_for(acks, inflight)
                    continue
                if not ready:
                    if next_page is not None and next_page.done():
                        page, next_page = next_page.result(), None
                    else:
                        page = feed.take_nowait() if next_page is None else []
                    ready.extend(page)
                room = most - len(inflight)
                if ready and room > 0:  # never more than `most` awaiting their ack
                    now = time.monotonic()
                    count = min(room, len(ready))
                    for _ in range(count):
                        item = ready.popleft()
                        await nc.publish(
                            item.subject,
                            item.payload,
                            reply=acks.reply(item.position),
                            headers=item.headers,
                        )
                        inflight.append((item.position, now))
                    self.stats.published += count
                    continue
                if not ready and not inflight:
                    self.caught_up.set()
                if not ready and next_page is None:
                    next_page = asyncio.ensure_future(feed.take())
                await self._wait_for(acks, inflight, None if ready else next_page)
        finally:
            if next_page is not None:
                next_page.cancel()
            await asyncio.to_thread(feed.close)
            await positions.settle()

    def _collect_acks(self, acks: AckInbox, inflight: deque[tuple[int, float]], acked: int) -> int:
        """The highest position acked with every position before it; raise on an error answer."""
        acks.arrived.clear()  # set again by any answer from here on
        if acks.failure:
            raise Trouble(acks.failure)
        results = acks.results
        while inflight and inflight[0][0] in results:
            position = inflight.popleft()[0]
            if results.pop(position):
                self.stats.duplicates += 1
            else:
                self.stats.stored += 1
            acked = position
        if inflight:
            self.caught_up.clear()
        return acked

    async def _wait_for(
        self,
        acks: AckInbox,
        inflight: deque[tuple[int, float]],
        page: asyncio.Future[list[Outgoing]] | None = None,
    ) -> None:
        """Until an ack or the next page arrives (at most 0.25 s); raise when the oldest
        publish has waited longer than relay_ack_timeout."""
        left = 0.25
        if inflight:
            position, sent = inflight[0]
            left = sent + self.settings.relay_ack_timeout - time.monotonic()
            if left <= 0:
                raise Trouble(
                    f"no ack for position {position} in {self.settings.relay_ack_timeout}s"
                )
        arrived = asyncio.ensure_future(acks.arrived.wait())
        waits: set[asyncio.Future[Any]] = {arrived} if page is None else {arrived, page}
        try:
            await asyncio.wait(waits, timeout=min(left, 0.25), return_when=asyncio.FIRST_COMPLETED)
        finally:
            arrived.cancel()

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
