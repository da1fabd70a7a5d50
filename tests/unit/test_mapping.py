"""The engine's mapper writes exactly the bytes the library's mapper writes, for every event."""

from __future__ import annotations

from eventsourcing.persistence import Mapper
from orderflow.adapters.demo import set_up_catalogue
from orderflow.adapters.demo_orders import run_orders

from orderflow.engine import open_engine
from orderflow.mapping import TimestampMapper


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
    topics = set()
    for record in stored:
        event = engine.mapper.to_domain_event(record)
        assert engine.mapper.to_stored_event(event) == library.to_stored_event(event)
        assert engine.mapper.to_stored_event(event).state == record.state
        topics.add(record.topic)
    assert len(topics) > 40 and "eventsourcing.domain:Snapshot" in topics
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
