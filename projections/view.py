"""A read model: tables, the events it reacts to, and a unit of work per batch of events.

A view subclasses `View`, declares its `tables`, and marks handler methods with `@on(Event...)`.
Handlers never run SQL to change rows: they call `batch.put / add / append / delete`, which
fold in memory and are written with one statement per table and kind when the batch ends, in
the same transaction as the view's new position. That makes a rebuild of a million events a
few thousand statements instead of millions of round trips, and keeps handlers plain Python.

`batch.state(event)` is the event's aggregate as it was right after the event, folded by the
aggregate's own code (an LRU of recent aggregates; a miss reloads from the store at that
version), so a view never repeats a domain rule such as how an order's status moves.
"""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.domain import (
    CanInitAggregate,
    CanMutateAggregate,
    DecoratedFuncCaller,
    DomainEventProtocol,
    OriginatorIDError,
    OriginatorVersionError,
    decorated_funcs,
)
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic
from orderflow.projections.sql import Sql, Table
from orderflow.projections.tracking import ViewStore

LOCAL_TIME = timezone(timedelta(hours=7), "ICT")  # Vietnam: no daylight saving time
"""Days ("sales per day", "orders of 2026-03-01") are counted in Vietnam time."""

Event = Any  # a decoded domain event (the library's classes are not generic enough to name)
Handler = Callable[[Any, "Batch", Event], None]
F = TypeVar("F", bound=Callable[..., None])


def on(*event_classes: type) -> Callable[[F], F]:
    """Mark a view method as the handler of these event classes."""

    def mark(method: F) -> F:
        method._handles = event_classes  # type: ignore[attr-defined]
        return method

    return mark


def events_of(aggregate: type) -> tuple[type, ...]:
    """Every event class of an aggregate class."""
    return tuple(
        member
        for name, member in vars(aggregate).items()
        if name != "Event" and isinstance(member, type) and issubclass(member, CanMutateAggregate)
    )


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """A timestamp as whole microseconds since 1970 (UTC): sortable on every backend."""
    return (moment - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    """A stored timestamp, in Vietnam time."""
    return (EPOCH + timedelta(microseconds=value)).astimezone(LOCAL_TIME)


def local_day(moment: datetime) -> str:
    """The date in Vietnam, as YYYY-MM-DD."""
    return moment.astimezone(LOCAL_TIME).date().isoformat()


ONE = Decimal(1)


def dong(amount: Decimal | int | str) -> int:
    """An amount of VND as a whole number (the unit stored in view tables)."""
    if type(amount) is not Decimal:
        amount = Decimal(amount)
    whole = int(amount)
    return whole if whole == amount else int(amount.quantize(ONE, rounding=ROUND_HALF_UP))


def _column_value(value: Any) -> Any:
    convert = CONVERSIONS.get(type(value))
    if convert is not None:
        return convert(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | str):
        return value
    if isinstance(value, Decimal):
        return dong(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return micros(value)
    return value


_texts: dict[int, str] = {}


def uuid_text(value: UUID) -> str:
    """str(value), remembered: an aggregate's id is written again and again."""
    text = _texts.get(value.int)
    if text is None:
        if len(_texts) >= 20_000:
            _texts.clear()
        text = _texts[value.int] = str(value)
    return text


PLAIN = frozenset({str, int})
CONVERSIONS: dict[type, Callable[[Any], Any]] = {
    Decimal: dong,
    UUID: uuid_text,
    datetime: micros,
    bool: int,
}
FOLDS: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b,
    "least": min,
    "greatest": max,
}


@functools.cache
def mutator(kind: Any) -> Callable[[Event, Any], Any]:
    """What `event.mutate(aggregate)` does for events of this class.

    For an event of an `@event`-decorated method, the library's checks and steps without its
    general machinery (about a third of the cost of such an event on replay: the argument
    filtering on every call, the property setters); for any other event, its own `mutate`.

    The library applies such an event by calling the decorated method with the event's
    attributes that the method names, then sets the aggregate's version and modified time.
    """
    method = decorated_funcs.get(kind)
    if (
        kind.mutate is not CanMutateAggregate.mutate
        or kind.apply is not DecoratedFuncCaller.apply
        or kind._as_dict is not CanMutateAggregate._as_dict  # (the attributes: vars(event))
        or _next_apply(kind) is not CanMutateAggregate.apply  # (what its apply calls last)
        or not inspect.isfunction(method)
    ):
        return kind.mutate  # type: ignore[no-any-return]
    names = frozenset(inspect.signature(method).parameters)

    def mutate(event: Event, aggregate: Any) -> Any:
        if aggregate is None:
            raise AssertionError("no aggregate to apply the event to")
        state = event.__dict__
        if state["originator_id"] != aggregate._id:
            raise OriginatorIDError(state["originator_id"], aggregate._id)
        version = state["originator_version"]
        if version != aggregate._version + 1:
            raise OriginatorVersionError(version, aggregate._version + 1)
        method(aggregate, **{k: v for k, v in state.items() if k in names})
        aggregate._version = version
        aggregate._modified_on = state["timestamp"]
        return aggregate

    return mutate


def _next_apply(kind: type) -> Any:
    after = kind.__mro__[kind.__mro__.index(DecoratedFuncCaller) + 1 :]
    return next(vars(base)["apply"] for base in after if "apply" in vars(base))


class States:
    """Aggregates folded from the events seen so far, least recently used dropped first.

    A runner shares one among its views and folds each event into it once, before the views
    apply the batch; so the state a view gets is the aggregate as it stands at the end of the
    batch (never before the event asked about). Views therefore write rows from state through
    `Batch.later`, which makes their rows independent of where batches begin and end.
    """

    def __init__(self, repository: Any, size: int = 5000) -> None:
        self.repository = repository
        self.size = size
        self.cache: OrderedDict[Any, Any] = OrderedDict()  # by _key(originator id)

    def current(self, event: Event) -> Any:
        """The aggregate with at least `event` applied: `after` without touching the LRU order
        (a runner has folded the event already when its views ask)."""
        originator_id = event.originator_id
        aggregate = self.cache.get(
            originator_id.int if type(originator_id) is UUID else originator_id
        )
        # (`_version`: the attribute behind the library's `version` property, read without a call)
        if aggregate is not None and aggregate._version >= event.originator_version:
            return aggregate
        return self.after(event)

    def after(self, event: Event) -> Any:
        """The aggregate with `event` applied (and perhaps later events of the same batch)."""
        originator_id, version, cache = event.originator_id, event.originator_version, self.cache
        key = originator_id.int if type(originator_id) is UUID else originator_id  # hashed in C
        aggregate = cache.get(key)
        if aggregate is not None:
            cache.move_to_end(key)
            if aggregate._version >= version:
                return aggregate
        if aggregate is None or aggregate._version != version - 1:
            aggregate = (
                self.repository.get(originator_id, version=version - 1) if version > 1 else None
            )
        aggregate = mutator(type(event))(event, aggregate)
        cache[key] = aggregate
        if len(cache) > self.size:
            cache.popitem(last=False)
        return aggregate


class Batch:
    """The changes one batch of events makes to one view, folded in memory until `write`.

    Prepared outside any transaction by a runner (`sql` None: `get` reads committed rows in a
    read transaction of its own), or inside the transaction that writes it.
    """

    def __init__(self, view: View, sql: Sql | None = None) -> None:
        self.view = view
        self.sql = sql
        self.position = 0
        self.first = 0  # the position of the batch's first event
        self.created: set[UUID] = set()  # aggregates whose first event is in this batch
        self._rows: dict[str, dict[tuple[Any, ...], tuple[bool, dict[str, Any]]]] = {}
        self._folds: dict[tuple[str, str], dict[tuple[Any, ...], dict[str, Any]]] = {}
        self._appends: dict[str, list[dict[str, Any]]] = {}
        self._deletes: dict[str, list[dict[str, Any]]] = {}
        self._later: dict[Any, Callable[[], None]] = {}

    def _key(self, table: str, row: dict[str, Any]) -> tuple[Any, ...]:
        try:
            return tuple([row[k] for k in self.view.keys[table]])
        except KeyError as missing:
            raise ValueError(
                f"view {self.view.name}.{table}: key column {missing} not given"
            ) from None

    @staticmethod
    def _clean(row: dict[str, Any]) -> dict[str, Any]:
        """The row (a fresh keyword-argument dict) with its values in column form, in place."""
        for column, value in row.items():
            kind = type(value)
            if kind not in PLAIN:
                convert = CONVERSIONS.get(kind)
                row[column] = convert(value) if convert is not None else _column_value(value)
        return row

    def put(self, table: str, **row: Any) -> None:
        """Insert the row, or overwrite the given columns of the row with the same key."""
        row = self._clean(row)
        rows = self._rows.get(table)
        if rows is None:
            rows = self._rows[table] = {}
        key = self._key(table, row)
        found = rows.get(key)
        rows[key] = (False, row) if found is None else (found[0], {**found[1], **row})

    def add(self, table: str, **row: Any) -> None:
        """Add the given numbers to the row with the same key (created with zeros)."""
        self._fold("add", table, row)

    def least(self, table: str, **row: Any) -> None:
        """Keep the smaller of each given number and the row's (a new row takes them as given)."""
        self._fold("least", table, row)

    def greatest(self, table: str, **row: Any) -> None:
        """Keep the larger of each given number and the row's (a new row takes them as given)."""
        self._fold("greatest", table, row)

    def _fold(self, op: str, table: str, row: dict[str, Any]) -> None:
        row = self._clean(row)
        key = self._key(table, row)
        folded = self._folds.setdefault((table, op), {}).get(key)
        if folded is None:
            self._folds[(table, op)][key] = row
            return
        combine, key_columns = FOLDS[op], self.view.store.tables[table].key
        for column, value in row.items():
            if column not in key_columns:
                folded[column] = combine(folded[column], value) if column in folded else value

    def append(self, table: str, **row: Any) -> None:
        """Insert a new row."""
        self._appends.setdefault(table, []).append(self._clean(row))

    def delete(self, table: str, **key: Any) -> None:
        """Remove the row with this key."""
        self._rows.setdefault(table, {})[self._key(table, self._clean(key))] = (True, {})

    def delete_where(self, table: str, **where: Any) -> None:
        """Remove every row with these leading key column values (e.g. all lines of one order)."""
        bound = self.view.store.tables[table]
        where = self._clean(where)
        if tuple(where) != bound.key[: len(where)]:
            raise ValueError(
                f"view {self.view.name}.{table}: delete_where takes leading key columns"
            )
        prefix = tuple(where.values())
        size = len(prefix)
        folds = [rows for (name, _), rows in self._folds.items() if name == table]
        pending_rows: list[dict[tuple[Any, ...], Any]] = [self._rows.get(table, {}), *folds]
        for pending in pending_rows:
            for key in [k for k in pending if k[:size] == prefix]:
                del pending[key]
        self._deletes.setdefault(table, []).append(where)

    def get(self, table: str, **key: Any) -> dict[str, Any] | None:
        """The row with this key as this batch leaves it so far (None when there is none)."""
        bound = self.view.store.tables[table]
        at = self._key(table, self._clean(key))
        deleted, columns = self._rows.get(table, {}).get(at, (False, {}))
        stored = None
        if not deleted:
            row = self._read_one(bound.select_by_key(), at)
            stored = dict(zip(bound.names, row, strict=True)) if row else None
        if stored is None and not columns:
            return None
        defaults = {n: "" if t == "text" else 0 for n, t in bound.table.column_types.items()}
        return {**defaults, **(stored or {}), **columns}

    def _read_one(self, statement: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        if self.sql is not None:
            return self.sql.one(statement, params)
        self.view.settle()  # the runner's writes before this batch are committed
        with self.view.store.reading() as sql:
            return sql.one(statement, params)

    def later(self, key: Any, action: Callable[[], None]) -> None:
        """Run `action` once when the batch ends; a later action with the same key replaces it.

        For rows built from an aggregate's state: an order with five events in the batch is
        written once, from its state after the last of them.
        """
        self._later[key] = action

    def state(self, event: Event) -> Any:
        """The event's aggregate with the event applied (as it stands at the end of the batch)."""
        return self.view.states.current(event)

    def finish(self) -> None:
        """Run the actions registered with `later` (each once)."""
        while self._later:
            actions, self._later = self._later, {}
            for action in actions.values():
                action()

    def write(self, sql: Sql) -> None:
        """Write everything folded: deletes, puts, folds, then appends, per table."""
        tables = self.view.store.tables
        for name, conditions in self._deletes.items():
            for columns, values in _grouped(conditions):
                sql.delete_rows(tables[name], columns, values)
        for name, rows in self._rows.items():
            table = tables[name]
            sql.delete_rows(table, table.key, [key for key, (gone, _) in rows.items() if gone])
            for columns, values in _grouped(cols for _, (_, cols) in rows.items() if cols):
                sql.write_rows(table, "put", columns, values)
        for (name, op), folded in self._folds.items():
            for columns, values in _grouped(folded.values()):
                sql.write_rows(tables[name], op, columns, values)
        for name, appended in self._appends.items():
            for columns, values in _grouped(appended):
                sql.write_rows(tables[name], "insert", columns, values)
        self._rows, self._folds, self._appends, self._deletes = {}, {}, {}, {}


def _grouped(
    rows: Iterator[dict[str, Any]] | Sequence[dict[str, Any]] | Any,
) -> list[tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(tuple(row.values()))
    return list(groups.items())


def _nothing_in_flight() -> None:
    pass


class View:
    """A read model kept in tables next to the events, updated exactly once per event."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    tables: ClassVar[tuple[Table, ...]] = ()
    every_event: ClassVar[bool] = False  # handle events of every topic (handler: `on_any`)
    follows: ClassVar[
        tuple[type, ...]
    ] = ()  # aggregates whose state `batch.state` must keep up with
    _topics: ClassVar[frozenset[str]]
    handlers: ClassVar[dict[type, str]] = {}
    state_cache_size: ClassVar[int] = 2000

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[type, str] = {}
        for base in reversed(cls.__mro__):
            for attribute, member in vars(base).items():
                for event_class in getattr(member, "_handles", ()):
                    handlers[event_class] = attribute
        cls.handlers = handlers

    def __init__(self, store: ViewStore, repository: Any) -> None:
        self.store = store
        self.keys = {name: table.key for name, table in store.tables.items()}
        self.states = States(repository, self.state_cache_size)
        self.settle: Callable[[], None] = _nothing_in_flight
        """Wait until what was sent to be written is committed (a runner sets this)."""
        self._followed_events = tuple(c for aggregate in self.follows for c in events_of(aggregate))
        self._given_topics = frozenset(
            get_topic(c)
            for c in [*self.handlers, *self._followed_events]
            if c in self.handlers or issubclass(c, CanInitAggregate)
        )
        self._followed_types = frozenset(self._followed_events)
        self._bound_handlers: dict[type, Callable[[Batch, Event], None]] = {
            kind: getattr(self, name) for kind, name in self.handlers.items()
        }
        self.forget()

    @classmethod
    def topics(cls) -> frozenset[str] | None:
        """Topics of the events this view handles or follows (None: every event)."""
        if cls.every_event:
            return None
        if "_topics" not in cls.__dict__:
            followed = [c for aggregate in cls.follows for c in events_of(aggregate)]
            cls._topics = frozenset(get_topic(c) for c in [*cls.handlers, *followed])
        return cls._topics

    @classmethod
    def followed_events(cls) -> tuple[type, ...]:
        """Event classes of the aggregates whose state this view keeps."""
        return tuple(c for aggregate in cls.follows for c in events_of(aggregate))

    def handles(self, topic: str) -> bool:
        """Whether a runner gives this view the events of this topic: those it handles, and the
        first event of each aggregate it follows (`batch.created`). The runner folds the other
        events of followed aggregates itself."""
        return self.every_event or topic in self._given_topics

    def forget(self) -> None:
        """Drop what the view remembers of its committed rows (a batch failed, or another
        process changed the view): the next batch reads them again."""

    def on_any(self, batch: Batch, event: Event) -> None:
        """Called for every event when `every_event` is set."""

    def apply(self, sql: Sql, events: Sequence[tuple[int, Event]]) -> None:
        """Apply decoded (position, event) pairs in order, in `sql`'s transaction."""
        self.prepare(events, sql).write(sql)

    def prepare(self, events: Sequence[tuple[int, Event]], sql: Sql | None = None) -> Batch:
        """The rows these decoded (position, event) pairs change, folded, ready to `write`."""
        batch = Batch(self, sql)
        if events:
            batch.first = events[0][0]
        created, handlers, followed = batch.created, self._bound_handlers, self._followed_types
        fold, every_event = self.states.current, self.every_event
        for position, event in events:
            batch.position = position
            if event.originator_version == 1:
                created.add(event.originator_id)
            kind = type(event)
            if kind in followed:
                fold(event)  # (already folded when a runner shares its states: a lookup)
            if every_event:
                self.on_any(batch, event)
            handler = handlers.get(kind)
            if handler is not None:
                handler(batch, event)
        batch.finish()
        return batch

    def process_event(self, event: Event, tracking: Tracking) -> None:
        """One event in its own transaction (the library's Projection interface)."""
        if isinstance(event, self._followed_events):
            self.states.after(event)  # load state before the transaction, not inside it
        with self.store.writing() as sql:
            if self.store.lock_position(sql) < tracking.notification_id:
                self.apply(sql, [(tracking.notification_id, event)])
                self.store.track(sql, tracking.notification_id)

    # reading ------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query written with `?` and `{table}` names."""
        with self.store.reading() as cursor:
            return cursor.rows(self.store.render(sql), params)


DomainEvent = DomainEventProtocol[UUID]
