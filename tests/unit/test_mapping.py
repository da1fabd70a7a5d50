"""The engine's mapper writes exactly the bytes the library's mapper writes, for every event."""

from __future__ import annotations

from datetime import UTC
from uuid import uuid4

from eventsourcing.persistence import Mapper
from hypothesis import given, settings
from hypothesis import strategies as st
from orderflow.adapters.demo import set_up_catalogue
from orderflow.adapters.demo_orders import run_orders

from orderflow.engine import open_engine
from orderflow.mapping import TimestampMapper, same_in_orjson


def test_every_kind_of_event_and_snapshot_is_stored_as_the_library_would_store_it() -> None:
    engine = open_engine("memory://")
    assert isinstance(engine.mapper, TimestampMapper) and engine.mapper._plain
    set_up_catalogue(engine, lambda line: None)
    run_orders(engine, lambda line: None, 10)
    for _ in range(120):  # snapshots of a stock item too
        engine.receive_stock("AOTHUN-TRANG-M", "HN", 1)
    library = Mapper(transcoder=engine.mapper.transcoder)
    stored = list(engine.recorder.select_notifications(start=None, limit=1_000_000))
    assert engine.snapshots is not None
    stored += [s for n in stored for s in engine.snapshots.recorder.select_events(n.originator_id)]
    topics, by_orjson = set(), set()
    for record in stored:
        event = engine.mapper.to_domain_event(record)
        assert engine.mapper.to_stored_event(event) == library.to_stored_event(event)
        assert engine.mapper.to_stored_event(event).state == record.state
        topics.add(record.topic)
        state = {k: v for k, v in vars(event).items() if not k.startswith("originator_")}
        if same_in_orjson({**state, "timestamp": None}):
            by_orjson.add(record.topic)
    assert len(topics) > 40 and "eventsourcing.domain:Snapshot" in topics
    assert topics - by_orjson == {"orderflow.sku:Sku.Claimed"}  # it names its product by UUID
    engine.close()


def test_stores_with_compression_or_their_own_mapper_keep_the_library_path() -> None:
    compressed = open_engine(
        "memory://", extra_env={"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}
    )
    assert isinstance(compressed.mapper, TimestampMapper) and not compressed.mapper._plain
    own = open_engine("memory://", extra_env={"MAPPER_TOPIC": "eventsourcing.persistence:Mapper"})
    assert type(own.mapper) is Mapper
    compressed.close()
    own.close()


JSON_TEXT = st.text(st.characters(exclude_categories=("Cs",)))  # any text but lone surrogates
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | JSON_TEXT
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.just(UTC))
)
NESTED = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(JSON_TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(JSON_TEXT, NESTED, max_size=6))
def test_orjson_writes_what_the_librarys_encoder_writes(state: dict[str, object]) -> None:
    mapper = open_engine("memory://").mapper
    assert isinstance(mapper, TimestampMapper) and same_in_orjson(state)
    assert mapper._encode(state) == mapper.transcoder.encode(state)


def test_values_orjson_would_write_otherwise_go_the_librarys_way() -> None:
    mapper = open_engine("memory://").mapper
    assert isinstance(mapper, TimestampMapper)
    for state in (
        {"order_id": uuid4()},  # orjson: a plain string; the library: {"_type_": "uuid_hex"...}
        {"rate": 0.5},
        {"pair": (1, 2)},
        {"big": 2**64},
        {"lines": [{"sku": "A", "id": uuid4()}]},
        {1: "int key"},
    ):
        assert mapper._encode(state) == mapper.transcoder.encode(state)  # type: ignore[arg-type]
    assert not same_in_orjson({"order_id": uuid4()}) and not same_in_orjson({"rate": 0.5})
