"""Keep views up to date with the event log: catch up, follow, resume after any crash.

Each view remembers its own position. The runner reads the log once from the smallest of them
(`read_log` to catch up, `follow_log` to follow), decodes each event once, folds it into the
aggregate states its views use, and gives every view the events it handles in batches. A view
turns its events into the rows they change (`View.prepare`, plain Python); then one transaction
per batch writes every view's rows together with each view's new position, so an event is
applied exactly once however the process dies.

That transaction first locks each view's tracking row and reads where the view really stands;
only a view that stands exactly where the runner believed gets its rows. If a view stands
*before* that (it was rebuilt meanwhile) or between (another runner got there first), the runner
goes back and reads again from there; a view already further is left alone. So two runners, or
a runner and a rebuild, can work on the same views without losing or doubling anything.

While one batch is written (in a thread of its own, the database doing the work), the next is
read, decoded and prepared, so a rebuild keeps both the database and Python busy. At most one
batch is in flight, its outcome is taken in before the next is written, and a batch prepared on
an outcome that did not happen is thrown away.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Self

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Notification, OperationalError
from eventsourcing.utils import get_topic
from orderflow.projections.reading import EventDecoder, LogPages
from orderflow.projections.tracking import lock_positions, track_positions
from orderflow.projections.view import Batch, States, View

from orderflow.event_log import follow_log, read_log

log = logging.getLogger(__name__)

BATCH = 5000  # events per transaction while catching up
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
            view.settle = self._settle  # a view reading its stored rows waits for our writes
        self._folded_topics = frozenset(
            get_topic(c) for view in self.views for c in view.followed_events()
        )
        self._done: dict[str, int] = {}  # where each view stands (committed)
        self._planned: dict[str, int] = {}  # where it will stand once the batch in flight is
        self._flight: Flight | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._routes: dict[str, Route] = {}
        self._log = LogPages(engine.recorder)
        self._decode = EventDecoder(engine.mapper)
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
        try:
            with _collector_paused():  # a catch-up ends; a follower pauses per batch
                while True:
                    try:
                        self._consume(
                            read_log(self._log, self._start(), until, page=self.batch),  # type: ignore[arg-type]
                            progress,
                        )
                        self._flush(tail=True)
                    except _Resync:
                        continue
                    return self._start()
        finally:
            self._close_writer()

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
                    self._log,  # type: ignore[arg-type]
                    after=self._start(),
                    stop=self._stop,
                    wait=self._at_tail(waiter),
                    page=self.batch,
                    max_idle_timeout=waiter.longest,
                )
                try:
                    self._consume(source, None)
                    self._settle()
                except _Resync:
                    continue
        except BaseException as error:  # reported through wait() and run_forever()
            log.exception("views stopped")
            self._error = error
        finally:
            self._close_writer()
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
        self._planned = dict(self._done)
        self._seen = self._start()
        try:
            for notification in source:
                self._pending.append(notification)
                self._seen = notification.id
                if len(self._pending) >= self.batch:
                    self._flush(tail=False)
                    if progress:
                        progress(self._seen)
            if progress:
                progress(self._seen)
        except BaseException:
            self._settle(quietly=True)  # whatever happened, nothing stays in flight
            raise

    # applying -----------------------------------------------------------------------------
    def _flush(self, tail: bool) -> None:
        """Prepare the pending events and send them to be written; at the tail also record the
        position of idle views, and wait until it is written."""
        with _collector_paused():
            work, end = self._prepare_page(tail)
        self._settle()  # the batch before: its outcome decides whether this one still holds
        if work:
            self._submit(work, end)
        if tail:
            self._settle()

    def _prepare_page(self, tail: bool) -> tuple[list[Work], int]:
        page, self._pending, end = self._pending, [], self._seen
        planned = [self._planned[view.store.name] for view in self.views]
        mine: list[list[tuple[int, Any]]] = [[] for _ in self.views]
        low = min(planned, default=0)
        routes, decode, fold = self._routes, self._decode, self.states.after
        for notification in page:
            position = notification.id
            if position <= low:
                continue
            route = routes.get(notification.topic) or self._route(notification.topic)
            if route.views or route.folded:
                event = decode(notification)
                if route.folded:
                    fold(event)
                given = (position, event)  # one pair, whichever views get it
                for i in route.views:
                    if position > planned[i]:
                        mine[i].append(given)
        work = [
            Work(view, planned[i], self._prepare(view, planned[i], mine[i]) if mine[i] else None)
            for i, view in enumerate(self.views)
            if planned[i] < end and (mine[i] or tail or end - planned[i] >= TRACK_EVERY)
        ]
        return work, end

    def _prepare(self, view: View, done: int, events: list[tuple[int, Any]]) -> Batch:
        try:
            return view.prepare(events)
        except _Resync:
            raise
        except Exception as error:
            self._settle(quietly=True)
            self._start_over()  # this page was folded: nothing of it may stay
            raise ProjectionError(
                f"view {view.store.name} failed on the events after position {done}"
                f" (from {events[0][0]}): {type(error).__name__}: {error}"
            ) from error

    def _route(self, topic: str) -> Route:
        """Which views handle events of this topic, and whether its aggregate state is kept."""
        route = Route(
            tuple(i for i, view in enumerate(self.views) if view.handles(topic)),
            topic in self._folded_topics,
        )
        self._routes[topic] = route
        return route

    def _submit(self, work: list[Work], end: int) -> None:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="orderflow-views-write")
        self._flight = Flight(work, end, self._writer.submit(self._apply, work, end))
        for item in work:
            self._planned[item.view.store.name] = end

    def _settle(self, quietly: bool = False) -> None:
        """Wait for the batch in flight to be written and take in where each view stands now.

        A view that is not where the batch left it makes the runner read the log again from
        the views' real positions (`_Resync`), throwing away whatever was prepared meanwhile.
        """
        flight, self._flight = self._flight, None
        if flight is None:
            return
        try:
            reached = flight.future.result()
        except BaseException:
            self._start_over()
            if quietly:
                return
            raise
        self._done.update(reached)
        with self._changed:
            self._changed.notify_all()
        moved = [w for w in flight.work if reached[w.view.store.name] != flight.end]
        for item in moved:
            item.view.forget()  # another process changed the view meanwhile
        if any(reached[w.view.store.name] < flight.end for w in moved):
            self._start_over()
            if not quietly:
                raise _Resync

    def _start_over(self) -> None:
        """Forget everything folded or prepared past the views' committed positions."""
        self.states.cache.clear()
        self._forget_all()
        self._planned = dict(self._done)
        self._pending = []

    def _forget_all(self) -> None:
        for view in self.views:
            view.forget()

    def _close_writer(self) -> None:
        self._settle(quietly=True)
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def _apply(self, work: list[Work], end: int) -> dict[str, int]:
        """One transaction for the batch: per view, lock its position, check it stands where
        the batch was prepared from, write the rows and record `end`; returns where each view
        stands after it. (Runs in the writer thread: touches the database only.)"""
        for attempt in range(RETRIES):
            failing: Work | None = work[0]
            try:
                reached = {}
                with work[0].view.store.writing() as sql:  # the views share the events' database
                    stores = [item.view.store for item in work]
                    positions = lock_positions(sql, stores)
                    sql.relax_durability()
                    written = []
                    for failing, current in zip(work, positions, strict=True):
                        reached[failing.view.store.name] = current  # rebuilt meanwhile, or
                        if current != failing.done:  # another runner was faster
                            continue
                        if failing.batch is not None:
                            failing.batch.write(sql)
                        written.append(failing.view.store)
                        reached[failing.view.store.name] = end
                    failing = None  # (PostgreSQL writes every view's rows from here)
                    track_positions(sql, written, end)
                return reached
            except IntegrityError:
                continue  # another runner recorded a position first: look again
            except OperationalError as error:
                log.warning("views: %s (attempt %d)", error, attempt + 1)
                time.sleep(min(0.05 * 2**attempt, 2.0))
            except Exception as error:
                failed = [failing] if failing is not None else work
                names = ", ".join(item.view.store.name for item in failed)
                firsts = [item.batch.first for item in failed if item.batch] or [end]
                raise ProjectionError(
                    f"view{'s' if len(failed) > 1 else ''} {names} failed on the events after"
                    f" position {min(item.done for item in failed)} (from {min(firsts)}):"
                    f" {type(error).__name__}: {error}"
                ) from error
        raise ProjectionError(f"views: gave up after {RETRIES} attempts")


@dataclass(frozen=True)
class Route:
    """Where the events of one topic go: the indexes of the views that handle them."""

    views: tuple[int, ...]
    folded: bool


@dataclass
class Work:
    """What one batch changes in one view: its rows (None: nothing but the position), prepared
    from where the view stood."""

    view: View
    done: int
    batch: Batch | None


@dataclass
class Flight:
    """The batch being written."""

    work: list[Work]
    end: int
    future: Future[dict[str, int]]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while batches are read, prepared and written.

    A batch makes a few hundred thousand objects (events, rows) that live until it is written
    and that reference counting then frees; left on, the collector would trace them, and every
    aggregate in the state cache, again and again: a fifth of a rebuild's time. Whatever
    cycles are left are collected as usual once the pause is over.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
