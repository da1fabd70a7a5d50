"""The projection runner on SQLite and PostgreSQL: exactly once, resumable, read-your-writes."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import pytest
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic
from orderflow.projections import (
    Batch,
    ProjectionError,
    Runner,
    Table,
    View,
    catch_up,
    on,
    open_read_models,
    open_store,
    run_projections,
)
from orderflow.projections.admin import rebuild, status, verify
from orderflow.projections.registry import open_views

from orderflow import Engine, ReceiptReason, open_engine
from orderflow.event_log import read_log
from orderflow.order import Order
from orderflow.stock_item import StockItem
from tests.integration.ordering_setup import place, seller


class Receipts(View):
    """Units received per SKU, counted with `add`: doubling an event would show at once."""

    name = "test_receipts"
    tables = (Table("totals", "sku text, units int, receipts int", key="sku"),)
    fail_at: ClassVar[int | None] = None

    @on(StockItem.Received)
    def received(self, batch: Batch, event: Any) -> None:
        if batch.position == self.fail_at:
            raise RuntimeError("boom")
        item = batch.state(event)
        batch.add("totals", sku=item.sku, units=event.quantity, receipts=1)

    def totals(self) -> dict[str, tuple[int, int]]:
        return {
            sku: (units, n)
            for sku, units, n in self.query("SELECT sku, units, receipts FROM {totals}")
        }


def receipt(engine: Engine, sku: str, warehouse: str, quantity: int) -> int:
    """Receive stock; the log position of its StockItem.Received event (the receipt's other
    events, in the same transaction, offer the units to orders waiting for them)."""
    last = engine.receive_stock(sku, warehouse, quantity)
    received = read_log(engine.recorder, max(last - 10, 0), last, [get_topic(StockItem.Received)])
    return [notification.id for notification in received][-1]


def receipts_view(engine: Engine) -> Receipts:
    return Receipts(open_store(engine, Receipts.name, Receipts.tables), engine.repository)


def expected_totals(engine: Engine) -> dict[str, tuple[int, int]]:
    """What the log says, counted straight from the events."""
    totals: dict[str, tuple[int, int]] = {}
    for sku in ("TEE", "MUG"):
        for warehouse in ("HN", "HCM"):
            for event in engine.events.get(StockItem.create_id(sku, warehouse)):
                if isinstance(event, StockItem.Received):
                    units, n = totals.get(sku, (0, 0))
                    totals[sku] = (units + event.quantity, n + 1)
    return totals


def totals_up_to(engine: Engine, position: int) -> dict[str, tuple[int, int]]:
    """What the log says up to a position, counted straight from the stored events."""
    totals: dict[str, tuple[int, int]] = {}
    for notification in read_log(engine.recorder, 0, position):
        event = engine.mapper.to_domain_event(notification)
        if isinstance(event, StockItem.Received):
            sku = engine.repository.get(event.originator_id).sku
            units, n = totals.get(sku, (0, 0))
            totals[sku] = (units + event.quantity, n + 1)
    return totals


@pytest.fixture
def shop(engine: Engine) -> Engine:
    seller(engine)
    return engine


def test_a_batch_that_fails_half_way_leaves_no_trace_and_applies_once_after_a_fix(
    shop: Engine,
) -> None:
    for _ in range(5):
        shop.receive_stock("TEE", "HN", 2)
    failing = receipt(shop, "MUG", "HCM", 7)
    view = receipts_view(shop)
    Receipts.fail_at = failing
    try:
        with pytest.raises(ProjectionError, match="view test_receipts failed"):
            Runner(shop, [view]).catch_up()
        assert view.totals() == {} and view.store.position() == 0
    finally:
        Receipts.fail_at = None
    Runner(shop, [view]).catch_up()
    assert view.totals() == expected_totals(shop)
    assert view.store.position() == shop.position()


def test_a_failure_in_a_later_batch_keeps_the_batches_before_it_written_once(
    shop: Engine,
) -> None:
    positions = [receipt(shop, "TEE", "HN", 1) for _ in range(9)]
    view = receipts_view(shop)
    Receipts.fail_at = positions[6]
    try:
        with pytest.raises(ProjectionError, match="view test_receipts failed"):
            Runner(shop, [view], batch=2).catch_up()  # batches written while the next is made
    finally:
        Receipts.fail_at = None
    reached = view.store.position()
    assert positions[4] <= reached < positions[6]
    assert view.totals() == totals_up_to(shop, reached)
    Runner(shop, [view], batch=2).catch_up()
    assert view.totals() == expected_totals(shop)


def test_the_error_names_the_view_and_where_it_stopped(shop: Engine) -> None:
    position = receipt(shop, "TEE", "HN", 1)
    view = receipts_view(shop)
    Receipts.fail_at = position
    try:
        with pytest.raises(ProjectionError) as raised:
            Runner(shop, [view]).catch_up()
    finally:
        Receipts.fail_at = None
    assert "view test_receipts failed on the events after position 0" in str(raised.value)
    assert "RuntimeError: boom" in str(raised.value)


def test_two_runners_following_the_same_view_never_apply_an_event_twice(store_url: str) -> None:
    engine = open_engine(store_url)
    seller(engine)
    runners = [Runner(open_engine(store_url), [receipts_view(engine)]).start() for _ in range(2)]
    try:
        for n in range(60):
            engine.receive_stock("TEE" if n % 2 else "MUG", "HN" if n % 3 else "HCM", n % 4 + 1)
        for runner in runners:
            runner.wait(engine.position(), timeout=30)
    finally:
        for runner in runners:
            runner.stop()
    assert receipts_view(engine).totals() == expected_totals(engine)


def test_a_rebuild_while_a_runner_follows_ends_with_what_a_replay_gives(shop: Engine) -> None:
    for n in range(40):
        place(shop, f"R{n}", TEE=1)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(40):
                shop.receive_stock("TEE", "HN", 1)
        except BaseException as error:
            errors.append(error)

    with run_projections(shop) as views:
        writer = threading.Thread(target=write)
        writer.start()
        rebuild(shop, ["stock", "orders"])
        writer.join()
        views.wait(shop.position(), timeout=30)
    assert not errors
    assert all(result.ok for result in verify(shop))


def test_wait_returns_once_the_callers_own_write_is_in_the_views(shop: Engine) -> None:
    with run_projections(shop) as views:
        for quantity in (3, 4, 5):
            position = shop.receive_stock("TEE", "HCM", quantity)
            views.wait(position, timeout=10)
            (row,) = views.stock.levels(sku="TEE", warehouse="HCM")
            assert row.on_hand == shop.stock_level("TEE", "HCM").on_hand


def test_without_a_thread_wait_applies_the_new_events_in_the_callers_thread(shop: Engine) -> None:
    views = open_read_models(shop, ["stock"])
    position = shop.receive_stock("MUG", "HCM", 2)
    views.wait(position)
    (row,) = views.stock.levels(sku="MUG", warehouse="HCM")
    assert row.on_hand == 7


def test_waiting_for_a_position_the_log_does_not_reach_times_out(shop: Engine) -> None:
    with run_projections(shop, ["stock"]) as views, pytest.raises(TimeoutError, match="position"):
        views.wait(shop.position() + 10, timeout=0.3)


def test_a_view_whose_tables_changed_is_emptied_and_rebuilt_from_zero(shop: Engine) -> None:
    catch_up(shop, ["stock"])
    changed = Table(
        "levels", "sku text, warehouse text, on_hand int, bin text", key="sku, warehouse"
    )
    store = open_store(shop, "stock", [changed])
    assert store.position() == 0
    views = catch_up(shop, ["stock"])  # the real definition again: rebuilt once more
    assert views.stock.store.position() == shop.position()
    assert {r.sku for r in views.stock.levels()} == {"TEE", "MUG"}


def test_a_rebuild_builds_the_indexes_again_and_a_view_missing_one_gets_it_back_on_open(
    shop: Engine,
) -> None:
    for n in range(3):
        place(shop, f"I{n}", TEE=1)
    rebuild(shop, ["orders"])
    (board,) = open_views(shop, ["orders"])
    assert board.store.is_current()
    with board.store.writing() as sql:  # as a rebuild killed half way leaves them
        board.store.drop_indexes(sql)
    assert not board.store.is_current()
    (board,) = open_views(shop, ["orders"])
    assert board.store.is_current() and board.store.position() == shop.position()
    assert [row.external_id for row in board.search("I1")] == ["I1"]


def test_a_rebuild_on_postgresql_empties_the_tables_into_new_files_leaving_no_dead_rows(
    postgres_url: str,
) -> None:
    engine = open_engine(postgres_url)
    seller(engine)
    order_id = place(engine, "T1", TEE=1)
    catch_up(engine, ["timeline"])
    (timeline,) = open_views(engine, ["timeline"])
    entries = timeline.store.tables["entries"].qualified
    files = f"SELECT pg_relation_filenode('{entries}')"
    with timeline.store.reading() as sql:
        before = sql.one(files)
    rebuild(engine, ["timeline"])
    with timeline.store.reading() as sql:
        assert sql.one(files) != before  # TRUNCATE: DELETE would keep the file and dead rows
    assert len(timeline.of(order_id)) >= 2
    assert all(result.ok for result in verify(engine, ["timeline"]))


def test_verify_names_a_changed_row_a_missing_row_and_an_extra_row(shop: Engine) -> None:
    for n in range(3):
        place(shop, f"V{n}", TEE=1)
    views = catch_up(shop)
    stock, orders = views.stock.store, views.orders.store
    with stock.writing() as sql:
        sql.execute(
            stock.render("UPDATE {levels} SET on_hand = 99 WHERE sku = ? AND warehouse = ?"),
            ["TEE", "HN"],
        )
        sql.execute(
            stock.render("INSERT INTO {levels} (sku, warehouse) VALUES (?, ?)"), ["GHOST", "HN"]
        )
    with orders.writing() as sql:
        sql.execute(orders.render("DELETE FROM {orders} WHERE external_id = ?"), ["V1"])
    found = {
        r.view: [str(d) for d in r.differences] for r in verify(shop, ["stock", "orders", "sales"])
    }
    assert sorted(found["stock"]) == [
        "stock.levels (sku=GHOST, warehouse=HN): stored row that a replay does not produce",
        "stock.levels (sku=TEE, warehouse=HN): on_hand stored 99, replayed 10",
    ]
    assert len(found["orders"]) == 1 and found["orders"][0].endswith(
        "row missing from the stored view"
    )
    assert found["sales"] == []


def test_status_shows_how_far_each_view_is_behind(shop: Engine) -> None:
    catch_up(shop, ["stock"])
    caught_up = shop.position()
    shop.receive_stock("TEE", "HN", 1)  # the receipt, and its offer to waiting orders
    behind = {s.name: s.behind for s in status(shop)}
    assert behind["stock"] == shop.position() - caught_up > 0
    assert behind["orders"] == shop.position()  # never caught up


def test_views_work_on_an_in_memory_engine(memory_engine: Engine) -> None:
    seller(memory_engine)
    order = place(memory_engine, "M1", TEE=2)
    views = catch_up(memory_engine)
    assert views.orders.order(order) is not None
    assert all(result.ok for result in verify(memory_engine))


def test_positions_with_gaps_are_followed_without_waiting_for_the_missing_ones(
    postgres_url: str,
) -> None:
    engine = open_engine(postgres_url)
    seller(engine)
    stale = engine.repository.get(StockItem.create_id("TEE", "HN"))
    engine.receive_stock("TEE", "HN", 1)
    stale.receive(1, ReceiptReason.CORRECTION)
    with pytest.raises(IntegrityError):
        engine.save(stale)  # refused, but it used up a position: a gap in the log
    received = receipt(engine, "TEE", "HN", 2)
    position = engine.position()
    stored = {notification.id for notification in read_log(engine.recorder)}
    assert received - 1 not in stored and received - 2 in stored
    views = catch_up(engine, ["stock"])
    (row,) = views.stock.levels(sku="TEE", warehouse="HN")
    assert row.on_hand == 13 and views.stock.store.position() == position


def test_postgresql_wakes_the_runner_by_notify_when_another_process_writes(
    postgres_url: str,
) -> None:
    engine = open_engine(postgres_url)
    seller(engine)
    writer = open_engine(postgres_url)
    with run_projections(engine, ["stock"]) as views:
        views.wait(engine.position())
        time.sleep(1.5)  # idle long enough for polling to have backed off to its longest sleep
        started = time.monotonic()
        position = writer.receive_stock("MUG", "HCM", 1)
        while views.stock.store.position() < position:
            assert time.monotonic() - started < 1.0, "the runner was not woken by NOTIFY"
            time.sleep(0.01)


def test_inserted_rows_go_in_between_the_writes_before_and_after_them(engine: Engine) -> None:
    store = open_store(engine, "test_order", (Table("t", "k text, v int", key="k"),))
    table = store.tables["t"]
    with store.writing() as sql:
        sql.write_rows(table, "put", ["k", "v"], [("a", 1)])
    with store.writing() as sql:  # PostgreSQL copies the inserts straight into the table
        sql.delete_rows(table, ["k"], [("a",)])
        sql.write_rows(table, "insert", ["k", "v"], [("a", 2), ("b", 3)])
        sql.write_rows(table, "put", ["k", "v"], [("b", 4)])
    with store.reading() as sql:
        assert sql.rows(store.render("SELECT k, v FROM {t} ORDER BY k")) == [("a", 2), ("b", 4)]


class CancelledOrders(View):
    """Handles only Order.Cancelled but follows orders: it sees their state and their creation."""

    name = "test_cancelled"
    tables = (Table("orders", "order_id text, status text, created int", key="order_id"),)
    follows = (Order,)
    given: ClassVar[list[str]] = []

    @on(Order.Cancelled)
    def cancelled(self, batch: Batch, event: Any) -> None:
        order = batch.state(event)
        created = int(order.id in batch.created)
        batch.put("orders", order_id=order.id, status=order.status, created=created)

    def prepare(self, events: Any, sql: Any = None) -> Batch:
        CancelledOrders.given += [type(event).__qualname__ for _, event in events]
        return super().prepare(events, sql)


def test_a_runner_gives_a_view_the_events_it_handles_and_the_first_of_those_it_follows(
    shop: Engine,
) -> None:
    CancelledOrders.given = []
    store = open_store(shop, CancelledOrders.name, CancelledOrders.tables)
    view = CancelledOrders(store, shop.repository)
    place(shop, "F1", TEE=1)
    order_id = place(shop, "F2", TEE=1)
    shop.cancel_order(order_id, "buyer changed their mind")
    Runner(shop, [view]).catch_up()
    # Order.Allocated is folded by the runner, not given to the view
    assert sorted(set(CancelledOrders.given)) == ["Order.Cancelled", "Order.Placed"]
    rows = view.query("SELECT order_id, status, created FROM {orders}")
    assert rows == [(str(order_id), "cancelled", 1)]
