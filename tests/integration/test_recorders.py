"""The engine's recorders (orderflow/recorders.py) on real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from orderflow import Engine, open_engine
from orderflow.loading import select_events_after
from orderflow.recorders import SaveReport
from orderflow.stock_item import StockItem


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    e = open_engine(store_url)
    yield e
    e.close()


def events(aggregate: UUID, *versions: int) -> list[StoredEvent]:
    return [StoredEvent(aggregate, v, "tests:Event", b'{"n": %d}' % v) for v in versions]


def test_saves_return_consecutive_positions_in_log_order(engine: Engine) -> None:
    a, b = uuid4(), uuid4()
    first = engine.recorder.insert_events(events(a, 1, 2, 3))
    second = engine.recorder.insert_events(events(b, 1))
    assert second and first and list(first) + list(second) == [1, 2, 3, 4]
    log = engine.recorder.select_notifications(start=1, limit=10)
    positions = [(n.originator_id, n.originator_version) for n in log]
    assert positions == [(a, 1), (a, 2), (a, 3), (b, 1)]
    assert log[0].state == b'{"n": 1}'


def test_any_topic_and_any_bytes_are_stored_as_given(engine: Engine) -> None:
    """PostgreSQL gets the rows as array literals: quotes, backslashes, commas, braces and
    every byte value survive the trip."""
    a = uuid4()
    topic = 'tests:Odd "quoted", \\back\\slashed {braced} Việt'
    state = bytes(range(256)) + b'"\\{},'
    engine.recorder.insert_events([StoredEvent(a, 1, topic, state)], snapshots=[])
    [stored] = engine.recorder.select_events(a)
    assert (stored.topic, stored.state) == (topic, state)


def test_a_conflicting_version_writes_nothing(engine: Engine) -> None:
    a, b = uuid4(), uuid4()
    engine.recorder.insert_events(events(a, 1))
    with pytest.raises(IntegrityError):
        engine.recorder.insert_events(events(b, 1) + events(a, 1))
    assert engine.recorder.max_notification_id() == 1
    assert engine.recorder.insert_events(events(b, 1))  # the connection is usable afterwards


def test_the_read_set_check_refuses_when_a_read_aggregate_moved_on(engine: Engine) -> None:
    read, written = uuid4(), uuid4()
    engine.recorder.insert_events(events(read, 1, 2))
    with pytest.raises(IntegrityError, match="stale read"):
        engine.recorder.insert_events(events(written, 1), expect={read: 1})
    assert engine.recorder.max_notification_id() == 2
    assert engine.recorder.insert_events(events(written, 1), expect={read: 2, uuid4(): 0})
    assert engine.recorder.max_notification_id() == 3


def test_a_save_reports_the_head_and_skips_the_check_when_it_is_still_known(
    engine: Engine,
) -> None:
    read, written = uuid4(), uuid4()
    engine.recorder.insert_events(events(read, 1, 2))
    head = engine.recorder.max_notification_id()
    report = SaveReport()
    with pytest.raises(IntegrityError, match="stale read"):  # an older head: checked, refused
        engine.recorder.insert_events(events(written, 1), expect={read: 1}, known_head=head - 1)
    engine.recorder.insert_events(
        events(written, 1), expect={read: 1}, known_head=head, report=report
    )
    assert report.head_before == head  # nobody wrote since the head the caller knew: no check
    assert engine.recorder.max_notification_id() == head + 1


def test_snapshots_commit_with_the_events_or_not_at_all(engine: Engine) -> None:
    a, read = uuid4(), uuid4()
    assert engine.snapshots is not None
    snapshots = engine.snapshots.recorder
    engine.recorder.insert_events(events(read, 1, 2))
    with pytest.raises(IntegrityError, match="stale read"):
        engine.recorder.insert_events(events(a, 1), expect={read: 1}, snapshots=events(a, 1))
    assert snapshots.select_events(a) == []
    engine.recorder.insert_events(events(a, 1, 2), snapshots=events(a, 2))
    assert [s.originator_version for s in snapshots.select_events(a)] == [2]


def test_a_due_snapshot_costs_no_transaction_of_its_own(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 100th event of a stock item is saved with its snapshot: the snapshot store's own
    put (a second commit, once every 100 events) is not used."""
    assert engine.snapshots is not None
    monkeypatch.setattr(engine.snapshots, "put", lambda *a, **k: pytest.fail("separate put"))
    engine.register_warehouse("HN", "Kho Ha Noi")
    engine.register_product("TS", "T-shirt", cost_price=1, sale_price=2)
    for _ in range(99):  # Opened is version 1: receipt 99 is version 100
        engine.receive_stock("TS", "HN", 1)
    [snapshot] = engine.snapshots.get(StockItem.create_id("TS", "HN"))
    assert snapshot.originator_version == 100
    assert engine.stock_level("TS", "HN").on_hand == 99


def test_the_batched_read_probes_the_primary_key(postgres_url: str) -> None:
    """As a join, the prepared statement's generic plan hashed the whole table (cost grew with
    the log); the LATERAL form must stay an index probe per aggregate."""
    engine = open_engine(postgres_url)
    ids = [uuid4() for _ in range(3000)]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO orderflow_events (originator_id, originator_version, topic, state)"
            " SELECT id, v, 't', '\\x00' FROM unnest(%s::uuid[]) AS id, generate_series(1, 5) AS v",
            (ids,),
        )
        conn.execute("ANALYZE orderflow_events")
    wanted = {ids[7]: 2, ids[9]: 0}
    found = select_events_after(engine.recorder, wanted)
    assert [e.originator_version for e in found[ids[7]]] == [3, 4, 5]
    assert [e.originator_version for e in found[ids[9]]] == [1, 2, 3, 4, 5]
    engine.close()
    from orderflow import loading

    query = loading.after_query('"public"."orderflow_events"')
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN " + query.replace("%s", "ARRAY[gen_random_uuid()]", 1).replace(
                    "%s", "ARRAY[1::bigint]", 1
                )
            )
        )
    assert "orderflow_events_pkey" in plan and "Seq Scan on orderflow_events" not in plan


def test_tables_from_before_the_insert_function_still_take_writes(postgres_url: str) -> None:
    """A store made by an older orderflow (no <table>_insert function, opened without creating
    tables) is written through the library's insert; read-set checks then ask for a re-read."""
    engine = open_engine(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP FUNCTION orderflow_events_insert")
    a = uuid4()
    assert engine.recorder.insert_events(events(a, 1)) == [1]
    assert not engine.checks_read_set
    with pytest.raises(IntegrityError, match="stale read"):
        engine.recorder.insert_events(events(a, 2), expect={uuid4(): 0})
    with pytest.raises(IntegrityError, match="no insert function"):
        engine.recorder.insert_events(events(a, 2), snapshots=events(a, 2))
    assert engine.recorder.max_notification_id() == 1
    assert not engine._writes_snapshots  # due snapshots are then put after the save, as before
    engine.close()


def test_opening_with_create_tables_replaces_the_insert_function_of_an_older_orderflow(
    postgres_url: str,
) -> None:
    """The function before snapshots were written with the events took 7 parameters; left
    beside the new one, calls with fewer arguments would be ambiguous."""
    open_engine(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP FUNCTION orderflow_events_insert")
        conn.execute(
            "CREATE FUNCTION orderflow_events_insert(uuid[], bigint[], text[], bytea[], text,"
            " uuid[] DEFAULT NULL, bigint[] DEFAULT NULL) RETURNS SETOF bigint"
            " LANGUAGE sql AS 'SELECT 1::bigint WHERE false'"
        )
    engine = open_engine(postgres_url)
    assert engine.recorder.insert_events(events(uuid4(), 1)) == [1]
    with psycopg.connect(postgres_url) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_proc WHERE proname = 'orderflow_events_insert'"
        ).fetchone()
    assert found == (1,)
    engine.close()
