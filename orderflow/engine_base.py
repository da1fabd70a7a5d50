"""The engine's base: one eventsourcing Application owning every aggregate and one event table."""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, ParamSpec, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import (
    IntegrityError,
    Mapper,
    OperationalError,
    PersistenceError,
    Recording,
)
from eventsourcing.utils import Environment, EnvType, get_topic

from orderflow.errors import ConcurrencyError, NotFoundError, StoreUnavailableError
from orderflow.event_log import read_log
from orderflow.loading import select_events_after, select_latest_snapshots
from orderflow.mapping import TimestampMapper
from orderflow.recorders import SaveReport
from orderflow.stock_item import StockItem

P = ParamSpec("P")
R = TypeVar("R")
A = TypeVar("A", bound=Aggregate)

MAX_ATTEMPTS = 30
EXCLUSIVE_AFTER = 8
"""Conflicting attempts after which a command runs holding the store's write lock from its first
read to its save (recorder.exclusive()): a command other writers kept beating (30 conflicts in
a row for one hot-SKU order were seen) then cannot lose again; the others wait for one command."""
MAX_UNSURE = 100_000
"""Aggregates saved without refreshing the cache that a process keeps track of; beyond that it
stops skipping read-set checks (see EngineBase.known_head). Only the classes a command decides
on from the cache are tracked (EngineBase.decided_from_cache: the catalogue, warehouses, channel
settings and stock items for place_order), so this bounds them by the size of the catalogue
times the warehouses, not by the number of orders."""
MAX_CATCH_UP = 1_000
"""Events other writers may have added between two saves of this process for it to read them
and keep skipping read-set checks (see EngineBase.known_head); after more, it checks every save."""
TRUST_CACHE_AFTER_CONFLICT = 1.0
"""Seconds after a conflict during which commands read before they decide (see trusts_cache)."""
conflict_retries = 0
"""Conflicting saves retried in this process so far (read by the benchmarks)."""
last_conflict = float("-inf")
"""Monotonic time of this process's latest conflicting save."""
log = logging.getLogger(__name__)
_in_command = threading.local()


def retry_on_conflict(method: Callable[P, R]) -> Callable[P, R]:
    """Re-run a load -> change -> save command when a concurrent writer saved first.

    Each attempt reloads every aggregate, so the business checks run again on fresh state and
    nothing partial is ever written. Gives up with ConcurrencyError after MAX_ATTEMPTS. A
    decorated command called from another one runs once: only the outermost command retries
    (nested retries would multiply). Other database failures become StoreUnavailableError, so
    callers never see the library's exceptions.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if getattr(_in_command, "active", False):
            return method(*args, **kwargs)
        _in_command.active = True
        try:
            return _run_with_retries(method, *args, **kwargs)
        finally:
            _in_command.active = False
            _in_command.attempt = 0

    return wrapper


def _run_with_retries(method: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    exclusive = getattr(getattr(args[0] if args else None, "recorder", None), "exclusive", None)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        _in_command.attempt = attempt
        try:
            if attempt > EXCLUSIVE_AFTER and exclusive is not None:
                with exclusive():  # nobody else can write between its reads and its save
                    return method(*args, **kwargs)
            return method(*args, **kwargs)
        except IntegrityError:
            _count_retry()
        except OperationalError as error:
            _count_retry()
            if not is_busy(error):
                raise unavailable(error) from error
        except PersistenceError as error:
            raise unavailable(error) from error
        time.sleep(backoff(attempt))
    raise ConcurrencyError(
        f"{method.__name__}: gave up after {MAX_ATTEMPTS} conflicting attempts; try again"
    )


def backoff(attempt: int) -> float:
    """Seconds to wait after the n-th conflicting attempt: exponential with full jitter (1 ms,
    2 ms, 4 ms ... capped at 64 ms), so writers racing for the same hot stock spread out instead
    of colliding again at once (a linear 0-20 ms jitter let a few orders lose 30 times in a row
    with 4 processes on 4 SKUs)."""
    return random.uniform(0, 0.001 * 2 ** min(attempt - 1, 6))


def _count_retry() -> None:
    global conflict_retries, last_conflict
    conflict_retries += 1
    last_conflict = time.monotonic()


def is_busy(error: OperationalError) -> bool:
    """SQLite's 'database is locked' / 'busy': another writer held the file for too long."""
    message = str(error).lower()
    return "locked" in message or "busy" in message


def unavailable(error: PersistenceError) -> StoreUnavailableError:
    """A library database error as our one-line error."""
    lines = str(error).strip().splitlines()
    return StoreUnavailableError(f"database: {lines[0] if lines else type(error).__name__}")


class EngineBase(Application[UUID]):
    """Loading, saving and snapshotting shared by every group of engine commands."""

    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate[UUID]], int]] = {
        StockItem: 100
    }
    decided_from_cache: ClassVar[tuple[type[Aggregate], ...] | None] = None
    """Classes some command decides on from the cache without reading them first (with
    known_head): what is saved of them is marked unsure until read again. None: every class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._absent: dict[UUID, float] = {}  # id -> until when it is known not to exist
        self._unsure: dict[UUID, int] = {}  # saved here, the cache not refreshed: id -> version
        self._head_lock = threading.Lock()
        self._head: int | None = self.position() if self.checks_read_set else None
        """While this process is the only writer: the log position up to which every cached
        aggregate not in _unsure, and every id in _absent, is current (see known_head)."""

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Configuration comes only from the given env (a StoreConfig's), never os.environ."""
        merged = dict(type(self).env)
        if type(self).snapshotting_intervals:
            merged["IS_SNAPSHOTTING_ENABLED"] = "y"
        merged.update(env or {})
        return Environment(name, merged)

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper, or TimestampMapper (the same bytes, cheaper) unless the
        environment names a mapper class of its own."""
        if self.factory.env.get(self.factory.MAPPER_TOPIC):
            return super().construct_mapper()
        return self.factory.mapper(self.construct_transcoder(), mapper_class=TimestampMapper)

    def _load(
        self, cls: type[A], aggregate_id: UUID, field: str, value: object, what: str | None = None
    ) -> A:
        """The aggregate, or NotFoundError naming the field the caller gave (and what it is)."""
        aggregate = self._load_or_none(cls, aggregate_id)
        if aggregate is None:
            raise NotFoundError(field, value, what)
        return aggregate

    def _load_or_none(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate, or None when there is none of this class with this id."""
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def _load_many(self, ids: Sequence[UUID]) -> dict[UUID, Aggregate]:
        """The aggregates that exist among these ids, read from the store in two queries for
        all of them (their latest snapshots, then the events after those), not one per id."""
        if not ids:
            return {}
        snapshots = select_latest_snapshots(self.snapshots.recorder, ids) if self.snapshots else {}
        after = {i: snapshots[i].originator_version if i in snapshots else 0 for i in ids}
        stored = select_events_after(self.recorder, after)
        found: dict[UUID, Aggregate] = {}
        for aggregate_id in ids:
            aggregate: Any = None
            if aggregate_id in snapshots:
                snapshot: Any = self.mapper.to_domain_event(snapshots[aggregate_id])
                aggregate = snapshot.mutate(None)
            for event in stored.get(aggregate_id, ()):
                aggregate = cast(Any, self.mapper.to_domain_event(event)).mutate(aggregate)
            if aggregate is not None:
                found[aggregate_id] = aggregate
        return found

    def _exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository

    def _save(
        self,
        *aggregates: Aggregate | None,
        expect: Mapping[UUID, int] | None = None,
        known_head: int | None = None,
    ) -> int:
        """Save the aggregates' new events in one transaction; return the last log position.

        `expect` maps aggregates the command read but does not change to the versions it read:
        the save then fails with a conflict (and the command is retried) if any has moved on —
        checked unless the log's head is still `known_head` (see known_head()).
        """
        kwargs: dict[str, Any] = {"expect": expect} if expect else {}
        if expect and known_head is not None:
            kwargs["known_head"] = known_head
        recordings = self.save(*aggregates, **kwargs)
        return recordings[-1].notification.id if recordings else self.position()

    @property
    def checks_read_set(self) -> bool:
        """Whether this store's recorder checks `expect` inside the write transaction."""
        return getattr(self.recorder, "checks_read_set", False)

    @staticmethod
    def attempt() -> int:
        """Which attempt of the running command this is (1 = the first; 0 outside commands)."""
        return getattr(_in_command, "attempt", 0)

    def trusts_cache(self) -> bool:
        """May this command decide on cached aggregates without reading them first?

        Only on the first attempt of a command, on a store that checks the read set at write
        time, and when this process saw no conflict in the last second: a stale cache then
        costs one failed write and a retry that reads first; under contention reading first
        is cheaper.
        """
        return (
            self.attempt() == 1
            and self.checks_read_set
            and time.monotonic() - last_conflict > TRUST_CACHE_AFTER_CONFLICT
        )

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """As Application.save, without the library's runtime-Protocol checks on each object
        (a measurable cost per command); the recorded events, snapshots and notifications are
        the same."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if obj is None:
                continue
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        report = SaveReport()
        if self.checks_read_set:
            processing_event.saved_kwargs["report"] = report
        due = self._due_snapshots(processing_event)
        with_events = bool(due) and self._writes_snapshots
        if with_events:
            processing_event.saved_kwargs["snapshots"] = [
                self.mapper.to_stored_event(snapshot) for snapshot in due
            ]
        recordings = self._record(processing_event)
        self._saved(processing_event, report.head_before, recordings)
        if due and not with_events:
            self._put_snapshots(due)
        self._notify(recordings)
        return recordings

    def known_head(self) -> int | None:
        """The log position a command that decides on cached aggregates passes to its save
        (`known_head`), taken BEFORE it reads the cache; None when not known.

        Every cached aggregate is current up to this position, except those marked unsure
        (`_read` brings them up to date first): the save then skips the read-set check if the
        log's head is still there. Each save moves it on, marking first what the save changed
        without refreshing the cache and, when another writer (another process, or a thread of
        this one finishing first) added events since, what those events changed (read back:
        up to MAX_CATCH_UP of them). A command that took the head before such marks were made
        either sees them or passes an old head, and gets the full check. None for good once a
        catch-up would read more than MAX_CATCH_UP events, or more than MAX_UNSURE aggregates
        are marked: the read-set check does all the work then, as on every store without this.
        """
        return self._head

    def _saved(
        self, processing_event: ProcessingEvent[UUID], head_before: int | None, recordings: Any
    ) -> None:
        """After a committed save: mark what it changed (and what others wrote before it),
        then move the known head on to its last event."""
        with self._head_lock:
            tracking = self._head is not None  # marks matter only while the head is known
            for event in processing_event.events:
                aggregate_id = event.originator_id
                if tracking and self._tracked(type(processing_event.aggregates.get(aggregate_id))):
                    self._mark(aggregate_id, event.originator_version)
                self._absent.pop(aggregate_id, None)  # after the mark: a reader checks it after
            head = self._head
            if not recordings or head is None:
                return
            last = recordings[-1].notification.id
            if head_before is not None and head_before <= head:  # the usual case; or another
                self._move_head(last)  # thread's later save went in first, and caught up on it
                return
        gap = self._others_since(head, head_before)  # read without the lock: it is I/O
        with self._head_lock:
            if gap is None:
                self._forget_head()
            elif self._head is not None:  # at or past `head`: the marks below close the gap
                for notification in gap:
                    self._absent.pop(notification.originator_id, None)
                    if self._tracked_topic(notification.topic):
                        self._mark(notification.originator_id, notification.originator_version)
                self._move_head(last)

    def _others_since(self, head: int, head_before: int | None) -> list[Any] | None:
        """The events other writers saved between this process's known head and a save's own
        events (read back to catch up on them); None when unknown or more than MAX_CATCH_UP."""
        if head_before is None or head_before - head > MAX_CATCH_UP:
            return None
        return list(read_log(self.recorder, head, head_before))

    def _move_head(self, last: int) -> None:
        if len(self._unsure) > MAX_UNSURE:
            self._forget_head()
        elif self._head is not None:
            self._head = max(self._head, last)

    def _mark(self, aggregate_id: UUID, version: int) -> None:
        if version > self._unsure.get(aggregate_id, 0):
            self._unsure[aggregate_id] = version

    def _forget_head(self) -> None:
        self._head = None
        self._unsure.clear()

    def _tracked(self, cls: type[Any]) -> bool:
        return self.decided_from_cache is None or cls in self.decided_from_cache

    def _tracked_topic(self, event_topic: str) -> bool:
        """Whether an event's topic ('orderflow.product:Product.PriceChanged') is of a class
        in decided_from_cache."""
        if self.decided_from_cache is None:
            return True
        return event_topic.rpartition(".")[0] in _topics(self.decided_from_cache)

    def _refreshed(self, aggregate: Aggregate) -> None:
        """The cache now holds this state (just saved, or read): no longer unsure."""
        if aggregate.id not in self._unsure:
            return
        with self._head_lock:  # a save may be marking a newer version at the same moment
            marked = self._unsure.get(aggregate.id)
            if marked is not None and aggregate.version >= marked:
                del self._unsure[aggregate.id]

    def position(self) -> int:
        """The position of the newest event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def _ids_of(self, *created: type[Any], page: int = 1000) -> Iterator[UUID]:
        """Ids of aggregates whose creation event is one of these classes, oldest first."""
        topics = [get_topic(cls) for cls in created]
        for notification in read_log(self.recorder, topics=topics, page=page):
            yield cast(UUID, notification.originator_id)

    def _events_of(
        self, *classes: type[Any], page: int = 1000
    ) -> Iterator[DomainEventProtocol[UUID]]:
        """Stored events of these classes, decoded, oldest first (cheaper than loading)."""
        topics = [get_topic(cls) for cls in classes]
        for notification in read_log(self.recorder, topics=topics, page=page):
            yield self.mapper.to_domain_event(notification)

    @property
    def _writes_snapshots(self) -> bool:
        """Whether the recorder writes snapshots in the events' own transaction (so a snapshot
        costs no commit of its own): into the snapshot store's table, checked by name."""
        recorder: Any = self.recorder
        return (
            self.snapshots is not None
            and getattr(recorder, "writes_snapshots", False)
            and recorder.snapshots_table
            == getattr(self.snapshots.recorder, "events_table_name", None)
        )

    def _due_snapshots(self, processing_event: ProcessingEvent[UUID]) -> list[Any]:
        """Snapshots of the aggregates whose new events reach a multiple of their class's
        interval, taken from the aggregates in hand (the library reloads each one)."""
        if not self.snapshots:
            return []
        due: dict[UUID, Any] = {}
        intervals = self.snapshotting_intervals
        for domain_event in processing_event.events:
            aggregate = processing_event.aggregates.get(domain_event.originator_id)
            interval = intervals.get(type(aggregate)) if aggregate else None
            if interval and domain_event.originator_version % interval == 0:
                due[domain_event.originator_id] = aggregate
        return [type(aggregate).Snapshot.take(aggregate) for aggregate in due.values()]

    def _put_snapshots(self, snapshots: list[Any]) -> None:
        """Snapshots in a transaction of their own, after the events are committed: a failure
        here must not fail the command (a retry would apply it twice); a snapshot is only a
        shortcut and the next one will do."""
        assert self.snapshots is not None
        try:
            self.snapshots.put(snapshots)
        except PersistenceError as error:
            log.warning("snapshots of %s skipped: %s", [s.originator_id for s in snapshots], error)


@functools.lru_cache(maxsize=16)
def _topics(classes: tuple[type[Any], ...]) -> frozenset[str]:
    return frozenset(get_topic(cls) for cls in classes)
