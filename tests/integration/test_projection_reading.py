"""The views' own reading of the log and folding of aggregates give exactly what the library
gives: the events its mapper decodes, the aggregates its repository loads."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from orderflow.projections.reading import EventDecoder, LogPages
from orderflow.projections.view import States, mutator

from orderflow import Engine
from orderflow.event_log import read_log
from orderflow.order import Order
from orderflow.stock_item import StockItem
from tests.integration.test_views import a_sellers_day


def same_event(decoded: Any, mapped: Any) -> None:
    assert type(decoded) is type(mapped)
    assert list(vars(decoded).items()) == list(vars(mapped).items())  # values and key order
    assert [type(v) for v in vars(decoded).values()] == [type(v) for v in vars(mapped).values()]


def test_every_event_of_a_sellers_day_decodes_as_the_mapper_decodes_it(engine: Engine) -> None:
    a_sellers_day(engine)
    decode = EventDecoder(engine.mapper)
    assert decode.fast
    stored = list(read_log(LogPages(engine.recorder), 0))  # type: ignore[arg-type]
    assert len({s.topic for s in stored}) > 30
    for notification in stored:
        same_event(decode(notification), engine.mapper.to_domain_event(notification))


@pytest.mark.parametrize(
    "state",
    [
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-03-01T10:00:00+00:00"},'
        b'"quantity":2,"reason":"purchase_receipt","reference":"PN-1"}',
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-03-01T10:00:00+00:00"}}',
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-03-01T10:00:00+00:00"},'
        b'"quantity":2,"reason":"say \\"_type_\\"","reference":"{\\"_data_\\"}"}',
        b'{"quantity":2,"timestamp":{"_type_":"datetime_iso","_data_":"2026-03-01T10:00:00Z"},'
        b'"reason":"purchase_receipt","reference":""}',
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-03-01T10:00:00+00:00","x":1},'
        b'"quantity":2,"reason":"purchase_receipt","reference":""}',
    ],
)
def test_stored_states_of_any_form_decode_as_the_mapper_decodes_them(
    memory_engine: Engine, state: bytes
) -> None:
    stored = StoredEvent(
        originator_id=StockItem.create_id("TEE", "HN"),
        originator_version=2,
        topic="orderflow.stock_item:StockItem.Received",
        state=state,
    )
    try:
        mapped = memory_engine.mapper.to_domain_event(stored)
    except Exception as error:  # the decoder raises the mapper's own error
        with pytest.raises(type(error)):
            EventDecoder(memory_engine.mapper)(stored)
        return
    same_event(EventDecoder(memory_engine.mapper)(stored), mapped)


def test_folding_every_event_of_a_sellers_day_gives_each_aggregate_as_the_repository_loads_it(
    engine: Engine,
) -> None:
    a_sellers_day(engine)
    assert mutator(Order.Allocated) is not Order.Allocated.mutate  # the short way is taken
    states = States(engine.repository, size=10_000)
    decode = EventDecoder(engine.mapper)
    for notification in read_log(engine.recorder, 0):
        states.after(decode(notification))
    assert len(states.cache) > 20
    for folded in states.cache.values():
        loaded = engine.repository.get(folded.id)
        assert type(folded) is type(loaded)
        assert vars(folded) == vars(loaded)
