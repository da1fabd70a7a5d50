"""Given events / When command / Then events, for aggregates without any store.

    item = given(StockItem(sku="TS", warehouse="HN"), lambda s: s.receive(10, "initial"))
    item.reserve("o-1", 3)                                   # when
    assert then(item) == [("Reserved", {"order_id": "o-1", "quantity": 3})]

`given` records the history with commands, then rebuilds the aggregate from those events alone
(as a load from the store does), so the event bodies are what is tested, not the commands' side
effects. `then` returns the events the "when" recorded, as (class name, fields) pairs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from eventsourcing.domain import Aggregate, DomainEventProtocol

A = TypeVar("A", bound=Aggregate)

ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}

Event = tuple[str, dict[str, Any]]


def replay(events: Iterable[DomainEventProtocol[Any]]) -> Any:
    """The aggregate the events describe, built from nothing."""
    aggregate: Any = None
    for event in events:
        aggregate = event.mutate(aggregate)  # type: ignore[attr-defined]
    return aggregate


def given(aggregate: A, *history: Callable[[A], object]) -> A:
    """The aggregate rebuilt only from the events its creation and `history` recorded."""
    for command in history:
        command(aggregate)
    rebuilt: A = replay(aggregate.collect_events())
    return rebuilt


def then(aggregate: Aggregate) -> list[Event]:
    """The events recorded since `given` (or the last `then`), as (name, fields)."""
    return [described(event) for event in aggregate.collect_events()]


def described(event: DomainEventProtocol[Any]) -> Event:
    fields = {k: v for k, v in vars(event).items() if k not in ENVELOPE}
    return type(event).__name__, fields


def state(aggregate: Aggregate) -> dict[str, Any]:
    """The aggregate's attributes, for "nothing changed" checks."""
    return copy.deepcopy({k: v for k, v in vars(aggregate).items() if k != "_pending_events"})
