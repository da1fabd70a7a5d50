"""Keep views up to date with the event log: catch up, follow, resume after any crash.

Each view remembers its own position. The runner reads the log once from the smallest of them
(`read_log` to catch up, `follow_log` to follow), decodes each event once, folds it into the
aggregate states its views use, and gives every view the events it handles in batches: one
transaction per batch holds every view's changes together with each view's new position, so an
event is applied exactly once however the process dies.

For each view the transaction first locks its tracking row and reads where it really stands;
events at or below that are skipped, and if the view stands *before* what this runner believed
(it was rebuilt meanwhile) the runner goes back and reads again from there. So two runners, or a
runner and a rebuild, can work on the same views without losing or doubling anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Self

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Notification, OperationalError
from eventsourcing.utils import get_topic
from orderflow.projections.sql import Sql
from orderflow.projections.view import States, View

from orderflow.event_log import follow_log, read_log

log = logging.getLogger(__name__)

BATCH = 1000  # events per transaction while catching up
TRACK_EVERY = 20_000  # a view with nothing to do still records its position this often
RETRIES = 30

Progress = Callable[[int], None]


class ProjectionError(RuntimeError):
    """A view could not apply an event; the runner stopped (it resumes from there on restart)."""


class _Resync(Exception):
    """A view stands before where this runner believed (rebuilt meanwhile): read again."""


class Runner:
    """Keeps a group of views up to date with one engine's event log."""

    def __init__(self, engine: Application[Any], views: Sequence[View], batch: int = BATCH) -> None:
        self.engine = engine
        self.views = list(views)
        self.batch = batch
        self.states = States(engine.repository)
        for view in self.views:
            view.states = self.states  # each event folded once, whichever views use the state
        self._folded_topics = frozenset(
            get_topic(c) for view in self.views for c in view.followed_events()
        )
        self._done: dict[str, int] = {}
        self._pending: list[Notification] = []
        self._seen = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # the public face ----------------------------------------------------------------------
    def positions(self) -> dict[str, int]:
        """Each view's stored position."""
        return {view.store.name: view.store.position() for view in self.views}

    def catch_up(self, until: int | None = None, progress: Progress | None = None) -> int:
        """Apply the events up to `until` (default: the newest now); returns the lowest position."""
        if self._thread is not None:
            raise RuntimeError("the runner is following the log in a thread; use wait()")
        self._load_positions()
        while True:
            try:
                self._consume(
                    read_log(self.engine.recorder, self._start(), until, page=self.batch), progress
                )
                self._flush(tail=True)
            except _Resync:
                continue
            return self._start()

    def start(self) -> Self:
        """Follow the log in a background thread (catching up first)."""
        if self._thread is None:
            self._stop.clear()
            self._error = None
            self._thread = threading.Thread(
                target=self._follow, name="orderflow-views", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following; whatever was applied stays applied."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_forever(self) -> None:
        """Follow the log in this thread until `stop()` (e.g. from a signal handler) or an error."""
        self._stop.clear()
        self._follow()
        if self._error is not None:
            raise self._error

    def wait(self, position: int, timeout: float = 5.0) -> None:
        """Block until every view has applied the log up to `position` (read-your-writes).

        Without a following thread the events are applied right here, in the caller's thread.
        """
        if self._thread is None:
            self.catch_up()
            if self._start() < position:
                raise TimeoutError(
                    f"position {position} is not in the log (newest: {self._start()})"
                )
            return
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._start() < position:
                if self._error is not None:
                    raise ProjectionError(f"views stopped: {self._error}") from self._error
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"views did not reach position {position} within {timeout}s")
                self._wake.set()
                self._changed.wait(min(remaining, 0.05))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def error(self) -> BaseException | None:
        """Why the following thread stopped, if it failed."""
        return self._error

    # reading the log ----------------------------------------------------------------------
    def _load_positions(self) -> None:
        self._done = {view.store.name: view.store.position() for view in self.views}

    def _start(self) -> int:
        return min(self._done.values(), default=0)

    def _follow(self) -> None:
        waiter = make_waiter(self.engine, self._wake)
        try:
            self._load_positions()
            while not self._stop.is_set():
                source = follow_log(
                    self.engine.recorder,
                    after=self._start(),
                    stop=self._stop,
                    wait=self._at_tail(waiter),
                    page=self.batch,
                    max_idle_timeout=waiter.longest,
                )
                try:
                    self._consume(source, None)
                except _Resync:
                    continue
        except BaseException as error:  # reported through wait() and run_forever()
            log.exception("views stopped")
            self._error = error
        finally:
            waiter.close()
            with self._changed:
                self._changed.notify_all()

    def _at_tail(self, waiter: Waiter) -> Callable[[float], None]:
        def wait(timeout: float) -> None:
            self._flush(tail=True)
            waiter(timeout)

        return wait

    def _consume(self, source: Iterator[Notification], progress: Progress | None) -> None:
        self._pending = []
        self._seen = self._start()
        for notification in source:
            self._pending.append(notification)
            self._seen = notification.id
            if len(self._pending) >= self.batch:
                self._flush(tail=False)
                if progress:
                    progress(self._seen)
        if progress:
            progress(self._seen)

    # applying -----------------------------------------------------------------------------
    def _flush(self, tail: bool) -> None:
        """Apply the pending events; at the tail also record the position of idle views."""
        page, self._pending, end = self._pending, [], self._seen
        decoded: dict[int, Any] = {}
        low = min(self._done.values(), default=0)
        for notification in page:
            if notification.id > low and notification.topic in self._folded_topics:
                self.states.after(self._decode(notification, decoded))
        work: list[Work] = []
        for view in self.views:
            done = self._done[view.store.name]
            mine = [n for n in page if n.id > done and view.handles(n.topic)]
            if done < end and (mine or tail or end - done >= TRACK_EVERY):
                work.append(Work(view, done, [(n.id, self._decode(n, decoded)) for n in mine]))
        reached = self._apply(work, end) if work else {}
        self._done.update(reached)
        with self._changed:
            self._changed.notify_all()
        if any(reached[w.view.store.name] < w.done for w in work):
            self.states.cache.clear()  # folded past where we must go back to
            raise _Resync

    def _decode(self, notification: Notification, decoded: dict[int, Any]) -> Any:
        if notification.id not in decoded:
            decoded[notification.id] = self.engine.mapper.to_domain_event(notification)
        return decoded[notification.id]

    def _apply(self, work: list[Work], end: int) -> dict[str, int]:
        """One transaction for the batch: per view, lock its position, check where it stands,
        apply what it lacks and record `end`; returns where each view stands after it."""
        for attempt in range(RETRIES):
            failing = work[0]
            try:
                reached = {}
                with work[0].view.store.writing() as sql:  # the views share the events' database
                    sql.relax_durability()
                    for failing in work:
                        reached[failing.view.store.name] = self._apply_one(sql, failing, end)
                return reached
            except IntegrityError:
                self._forget(work)
                continue  # another runner recorded a position first: look again
            except OperationalError as error:
                self._forget(work)
                log.warning("views: %s (attempt %d)", error, attempt + 1)
                time.sleep(min(0.05 * 2**attempt, 2.0))
            except Exception as error:
                self._forget(work)
                first = failing.events[0][0] if failing.events else end
                raise ProjectionError(
                    f"view {failing.view.store.name} failed on the events after position "
                    f"{failing.done} (from {first}): {type(error).__name__}: {error}"
                ) from error
        raise ProjectionError(f"views: gave up after {RETRIES} attempts")

    @staticmethod
    def _apply_one(sql: Sql, work: Work, end: int) -> int:
        view, store = work.view, work.view.store
        current = store.lock_position(sql)
        if current != work.done:
            view.forget()  # another process changed the view meanwhile
        if current < work.done or current >= end:
            return current  # rebuilt meanwhile (go back), or already further
        view.apply(sql, [(p, e) for p, e in work.events if p > current])
        store.track(sql, end)
        return end

    @staticmethod
    def _forget(work: list[Work]) -> None:
        for item in work:
            item.view.forget()


@dataclass
class Work:
    """What one view gets from a batch: the events it handles after where it stood."""

    view: View
    done: int
    events: list[tuple[int, Any]]


# waking up when new events may have arrived --------------------------------------------------
class Waiter:
    """Sleeps until woken (a `runner.wait()` poke or stop) or the timeout passes."""

    longest = 0.5

    def __init__(self, wake: threading.Event) -> None:
        self.wake = wake

    def __call__(self, timeout: float) -> None:
        self.wake.wait(timeout)
        self.wake.clear()

    def close(self) -> None:
        pass


class ListenWaiter(Waiter):
    """PostgreSQL: LISTEN on the channel the engine NOTIFYs on every write."""

    longest = 5.0

    def __init__(self, wake: threading.Event, recorder: Any) -> None:
        super().__init__(wake)
        self._connection = recorder.datastore.get_connection()
        self.conn = self._connection.__enter__()
        self.conn.execute(f'LISTEN "{recorder.channel_name}"')

    def __call__(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.wake.is_set() and (left := deadline - time.monotonic()) > 0:
            for _ in self.conn.notifies(timeout=min(left, 0.05), stop_after=1):
                return
        self.wake.clear()

    def close(self) -> None:
        try:
            self.conn.execute("UNLISTEN *")
        finally:
            self._connection.__exit__(None, None, None)


def make_waiter(engine: Application[Any], wake: threading.Event) -> Waiter:
    """LISTEN/NOTIFY on PostgreSQL; polling with back-off elsewhere (SQLite, memory)."""
    recorder = engine.recorder
    if hasattr(recorder, "channel_name") and hasattr(recorder, "datastore"):
        return ListenWaiter(wake, recorder)
    return Waiter(wake)
