"""Reading the log for an audit: filtered event streams, an aggregate's history, the stock card.

Everything here streams: one page of the log in memory at a time, however long the log is.
A time range is turned into a range of positions with the `event_times` index, so only the
events of that period are decoded.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import Notification, PersistenceError
from eventsourcing.utils import get_topic, resolve_topic
from orderflow.projections.event_times import EventTimes
from orderflow.projections.reading import LogPages
from orderflow.projections.registry import open_views
from orderflow.projections.view import LOCAL_TIME
from orderflow.projections.words import describe, event_name, fields

from orderflow.errors import InvalidInputError, NotFoundError
from orderflow.event_log import read_log
from orderflow.order import Order
from orderflow.stock_item import StockItem

PAGE = 2000


@dataclass(frozen=True)
class EventRecord:
    """One stored event, decoded."""

    position: int
    at: datetime
    aggregate_id: UUID
    version: int
    name: str  # Order.Placed
    text: str
    data: dict[str, Any] = field(repr=False)


# which events: names, aggregates, time ---------------------------------------------------------
def event_topics() -> dict[str, str]:
    """Every event class of orderflow's aggregates: `Order.Placed` -> its stored topic."""
    found: dict[str, str] = {}
    pending: list[type] = [Aggregate]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__module__.startswith("orderflow."):
            continue
        for member in vars(cls).values():
            if isinstance(member, type) and issubclass(member, CanMutateAggregate):
                found[member.__qualname__] = get_topic(member)
    return found


def topics_for(names: Iterable[str]) -> list[str]:
    """Topics of `Order.Placed`, `Placed` (of any aggregate), `Order` (all its events)."""
    known = event_topics()
    topics: list[str] = []
    for name in names:
        wanted = name.strip()
        matches = [
            topic
            for qualname, topic in known.items()
            if wanted.lower()
            in (qualname.lower(), qualname.split(".")[0].lower(), qualname.split(".")[-1].lower())
        ]
        if not matches:
            raise InvalidInputError(
                "type", f"no event is called {wanted!r} (e.g. Order.Placed, Placed, Order)"
            )
        topics.extend(t for t in matches if t not in topics)
    return topics


def parse_moment(value: str | datetime, field_name: str) -> datetime:
    """An ISO date or date-time; without a zone it is Vietnam time."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError(
                field_name, f"{value!r} is not a date (2026-03-01) or date-time (2026-03-01T14:30)"
            ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TIME)


def parse_aggregate(engine: Application[Any], value: str) -> UUID:
    """An aggregate id: a UUID, or an order as channel/external-id (shopee/2403ABC)."""
    text = value.strip()
    try:
        return UUID(text)
    except ValueError:
        pass
    channel, sep, external = text.partition("/")
    if not sep or not external:
        raise InvalidInputError("aggregate", f"{value!r} is neither an id nor channel/external-id")
    order_id = Order.create_id(channel.strip().lower(), external.strip())
    if order_id not in engine.repository:
        raise NotFoundError("order", text)
    return order_id


# streaming the log ----------------------------------------------------------------------------
def notifications(
    engine: Application[Any],
    aggregate: UUID | None = None,
    types: Iterable[str] = (),
    after: int = 0,
    until: int | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
) -> Iterator[Notification]:
    """Stored events (not decoded) that can match the filters; the time is checked by the caller."""
    topics = topics_for(types) if types else []
    end = (engine.recorder.max_notification_id() or 0) if until is None else until
    if since or before:
        after, end = _narrow_by_time(engine, since, before, after, end)
    pages: Any = LogPages(engine.recorder)  # (the recorder's two read methods, leaner)
    for notification in read_log(pages, after=after, until=end, topics=topics, page=PAGE):
        if aggregate is None or notification.originator_id == aggregate:
            yield notification


def events(
    engine: Application[Any],
    aggregate: UUID | None = None,
    types: Iterable[str] = (),
    after: int = 0,
    until: int | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
) -> Iterator[EventRecord]:
    """Stored events in log order, decoded and filtered; `since <= time < before`."""
    for notification in notifications(engine, aggregate, types, after, until, since, before):
        event: Any = engine.mapper.to_domain_event(notification)
        if (since and event.timestamp < since) or (before and event.timestamp >= before):
            continue
        yield EventRecord(
            notification.id,
            event.timestamp,
            event.originator_id,
            event.originator_version,
            event_name(event),
            describe(event),
            fields(event),
        )


def json_lines(
    engine: Application[Any],
    aggregate: UUID | None = None,
    types: Iterable[str] = (),
    after: int = 0,
    until: int | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
) -> Iterator[str]:
    """The same events as JSON lines: position, at, aggregate_id, version, event, data.

    When the store keeps events as plain JSON (no cipher, no compression) and an event needs
    no upcasting, its stored JSON is passed through with the library's type wrappers
    ({"_type_": "decimal_str", "_data_": "5"} becomes "5"): the same line as decoding and
    encoding it again would give, several times faster. Anything else is decoded.
    """
    passthrough = _plain_json_store(engine)
    for notification in notifications(engine, aggregate, types, after, until, since, before):
        line = _passthrough(notification, since, before) if passthrough else None
        if line is None:
            line = _decoded_line(engine, notification, since, before)
        if line:
            yield line


def _decoded_line(
    engine: Application[Any],
    notification: Notification,
    since: datetime | None,
    before: datetime | None,
) -> str:
    event: Any = engine.mapper.to_domain_event(notification)
    if (since and event.timestamp < since) or (before and event.timestamp >= before):
        return ""
    record = {
        "position": notification.id,
        "at": event.timestamp,
        "aggregate_id": event.originator_id,
        "version": event.originator_version,
        "event": event_name(event),
        "data": fields(event),
    }
    return json.dumps(record, default=_json_value, ensure_ascii=False, separators=(",", ":"))


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


STORED = re.compile(
    r'^\{"timestamp":\{"_type_":"datetime_iso","_data_":"([^"]+)"\}(?:,"originator_topic":"[^"]*")?(.*)\}$',
    re.DOTALL,
)
WRAPPED = re.compile(r'\{"_type_":"(decimal_str|datetime_iso|uuid_hex)","_data_":"([^"]*)"\}')
PLAIN_TRANSCODINGS = frozenset({"decimal_str", "datetime_iso", "uuid_hex"})


def _plain_json_store(engine: Application[Any]) -> bool:
    mapper = engine.mapper
    names = set(getattr(mapper.transcoder, "names", {"?": None}))
    return mapper.cipher is None and mapper.compressor is None and names <= PLAIN_TRANSCODINGS


def _unwrap(match: re.Match[str]) -> str:
    kind, data = match.groups()
    return f'"{UUID(data)}"' if kind == "uuid_hex" else f'"{data}"'


def _passthrough(
    notification: Notification, since: datetime | None, before: datetime | None
) -> str | None:
    """The JSON line straight from the stored state, "" when outside the period, None: decode it."""
    state = notification.state.decode()
    found = STORED.match(state)
    if found is None or getattr(resolve_topic(notification.topic), "class_version", 1) != 1:
        return None
    at, rest = found.groups()
    if since or before:
        moment = datetime.fromisoformat(at)
        if (since and moment < since) or (before and moment >= before):
            return ""
    data = "{" + WRAPPED.sub(_unwrap, rest.removeprefix(",")) + "}"
    name = notification.topic.rpartition(":")[2]
    return (
        f'{{"position":{notification.id},"at":"{at}","aggregate_id":"{notification.originator_id}",'
        f'"version":{notification.originator_version},"event":"{name}","data":{data}}}'
    )


def _narrow_by_time(
    engine: Application[Any], since: datetime | None, before: datetime | None, after: int, end: int
) -> tuple[int, int]:
    """Positions that can hold events of the period: indexed ones, plus what is not indexed yet."""
    try:
        (index,) = open_views(engine, [EventTimes.name], create=False)
        assert isinstance(index, EventTimes)
        found = index.time_range(since, before)
    except PersistenceError:
        return after, end  # no index in this database (yet): look at every event
    if found.first is None:
        return max(after, found.indexed), end  # only the part not indexed yet can match
    low = max(after, found.first - 1)
    high = end if found.indexed < end else min(end, found.last or end)
    return low, high


# one aggregate ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class History:
    """An aggregate's events, and its state at the end of them."""

    aggregate_id: UUID
    kind: str
    version: int
    events: list[EventRecord]
    state: dict[str, Any]


def history(engine: Application[Any], aggregate_id: UUID, at: datetime | None = None) -> History:
    """Every event of an aggregate (up to `at`), and its state as it was then."""
    records: list[EventRecord] = []
    found: Iterable[Any] = engine.events.get(aggregate_id)
    for event in found:
        if at is not None and event.timestamp > at:
            break
        records.append(
            EventRecord(
                0,
                event.timestamp,
                aggregate_id,
                event.originator_version,
                event_name(event),
                describe(event),
                fields(event),
            )
        )
    if not records:
        if aggregate_id not in engine.repository:
            raise NotFoundError("aggregate", str(aggregate_id))
        raise InvalidInputError("at", f"{aggregate_id} did not exist yet at {at}")
    try:
        aggregate: Any = engine.repository.get(aggregate_id, version=records[-1].version)
    except AggregateNotFoundError:
        raise NotFoundError("aggregate", str(aggregate_id)) from None
    return History(
        aggregate_id, type(aggregate).__name__, aggregate.version, records, state_of(aggregate)
    )


def state_of(aggregate: Any) -> dict[str, Any]:
    """An aggregate's public attributes (and computed totals of an order)."""
    state = {k: v for k, v in vars(aggregate).items() if not k.startswith("_")}
    for extra in ("reference", "goods_total", "total", "paid", "outstanding"):
        if isinstance(getattr(type(aggregate), extra, None), property):
            state[extra] = getattr(aggregate, extra)
    return state


# the stock card ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CardLine:
    """One movement of a SKU in a warehouse, with the balances after it."""

    at: datetime
    warehouse: str
    movement: str
    text: str
    quantity_in: int
    quantity_out: int
    on_hand: int
    reserved: int
    total_on_hand: int  # over every warehouse on the card


def stock_card(engine: Application[Any], sku: str, warehouses: Iterable[str]) -> Iterator[CardLine]:
    """Every movement of a SKU in these warehouses, oldest first, with running balances."""
    streams = [_movements(engine, sku, code) for code in warehouses]
    totals: dict[str, int] = {}
    for at, code, event, on_hand, reserved, delta in heapq.merge(*streams, key=lambda m: m[0]):
        totals[code] = on_hand
        yield CardLine(
            at,
            code,
            event_name(event).split(".")[-1],
            describe(event),
            max(delta, 0),
            max(-delta, 0),
            on_hand,
            reserved,
            sum(totals.values()),
        )


def _movements(
    engine: Application[Any], sku: str, warehouse: str
) -> Iterator[tuple[datetime, str, Any, int, int, int]]:
    item_id = StockItem.create_id(sku, warehouse)
    item: Any = None
    version = 0
    while True:
        page: list[Any] = list(engine.events.get(item_id, gt=version or None, limit=PAGE))
        for event in page:
            before = item.on_hand if item is not None else 0
            item = event.mutate(item)
            yield (
                event.timestamp,
                warehouse,
                event,
                item.on_hand,
                item.reserved,
                item.on_hand - before,
            )
        if len(page) < PAGE:
            return
        version = page[-1].originator_version
