"""Reading the log for an audit on SQLite and PostgreSQL: filters, times, history, stock card."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from orderflow.projections import Runner, audit, catch_up
from orderflow.projections.event_times import BLOCK
from orderflow.projections.registry import open_views
from orderflow.projections.view import micros

from orderflow import Engine
from orderflow.errors import InvalidInputError, NotFoundError
from orderflow.order import Order
from tests.integration.ordering_setup import place, seller


def moment() -> datetime:
    """Now, with a little room on both sides so that events fall clearly before or after."""
    time.sleep(0.02)
    now = datetime.now(UTC)
    time.sleep(0.02)
    return now


def test_events_are_filtered_by_aggregate_type_and_position(engine: Engine) -> None:
    seller(engine)
    first = place(engine, "A1", TEE=1)
    place(engine, "A2", MUG=1)
    engine.cancel_order(first, "test")
    mine = list(audit.events(engine, aggregate=first))
    assert [r.name for r in mine] == ["Order.Placed", "Order.Allocated", "Order.Cancelled"]
    assert [r.position for r in mine] == sorted(r.position for r in mine)
    placed = [r.aggregate_id for r in audit.events(engine, types=["Order.Placed"])]
    assert len(placed) == 2 and set(placed) == set(
        r.aggregate_id for r in audit.events(engine, types=["placed"])
    )
    assert {r.name.split(".")[0] for r in audit.events(engine, types=["Order"])} == {"Order"}
    window = list(audit.events(engine, after=mine[0].position, until=mine[1].position))
    assert [r.position for r in window] == [
        p for p in range(mine[0].position + 1, mine[1].position + 1)
    ]


def test_a_time_range_reads_only_its_part_of_the_log_with_or_without_the_index(
    engine: Engine,
) -> None:
    seller(engine)
    place(engine, "T0", TEE=1)
    start = moment()
    middle = [place(engine, f"T{n}", MUG=1) for n in range(1, 4)]
    end = moment()
    place(engine, "T9", TEE=1)
    unindexed = {
        r.aggregate_id
        for r in audit.events(engine, since=start, before=end, types=["Order.Placed"])
    }
    catch_up(engine, ["event_times"])
    indexed = {
        r.aggregate_id
        for r in audit.events(engine, since=start, before=end, types=["Order.Placed"])
    }
    assert unindexed == indexed == set(middle)
    every = list(audit.events(engine, since=start, before=end))
    assert all(start <= r.at < end for r in every) and len(every) > len(middle)


def test_the_time_index_narrows_a_period_to_the_blocks_that_hold_it(engine: Engine) -> None:
    seller(engine)
    for n in range(BLOCK // 4):  # several blocks of positions
        engine.receive_stock("TEE", "HN", 1, reference=f"R{n}")
    start = moment()
    last = engine.receive_stock("MUG", "HCM", 1)
    views = catch_up(engine, ["event_times"])
    found = views.event_times.time_range(start, None)
    assert found.last == last and found.first is not None and found.first > last - BLOCK
    assert found.indexed == engine.position()


def test_the_time_index_holds_each_blocks_positions_and_times_however_the_batches_fall(
    memory_engine: Engine,
) -> None:
    seller(memory_engine)
    for n in range(BLOCK + BLOCK // 2):  # over more than one block of positions
        memory_engine.receive_stock("TEE", "HN", 1, reference=f"R{n}")
    expected: dict[int, list[int]] = {}
    for record in audit.events(memory_engine):
        at = micros(record.at)
        block = expected.setdefault(record.position // BLOCK, [record.position, 0, at, at])
        block[1:] = [record.position, min(block[2], at), max(block[3], at)]
    for size in (BLOCK * 3, BLOCK, 100, 7):
        (view,) = open_views(memory_engine, ["event_times"])
        with view.store.writing() as sql:
            view.store.reset(sql)
        Runner(memory_engine, [view], batch=size).catch_up()
        rows = view.query("SELECT block, first_pos, last_pos, first_us, last_us FROM {blocks}")
        assert {block: list(rest) for block, *rest in rows} == expected, size


def test_json_lines_passed_through_from_storage_equal_decoded_ones(engine: Engine) -> None:
    seller(engine)
    order = place(engine, "J1", TEE=2, MUG=1)
    engine.change_shipping_fee(order, 15_000)
    engine.set_reorder_point("TEE", "HN", 3)
    fast = list(audit.json_lines(engine))
    decoded = [audit._decoded_line(engine, n, None, None) for n in audit.notifications(engine)]
    assert fast == decoded
    placed = next(json.loads(line) for line in fast if '"Order.Placed"' in line)
    assert placed["aggregate_id"] == str(order) and placed["data"]["shipping_fee"] == "30000"


def test_an_orders_history_and_its_state_at_a_past_moment(engine: Engine) -> None:
    seller(engine)
    order = place(engine, "H1", TEE=2)
    before_edit = moment()
    engine.change_shipping_fee(order, 0)
    before_cancel = moment()
    engine.cancel_order(order, "buyer changed their mind")
    whole = audit.history(engine, audit.parse_aggregate(engine, "shopee/H1"))
    assert [r.name for r in whole.events] == [
        "Order.Placed",
        "Order.Allocated",
        "Order.ShippingFeeChanged",
        "Order.Cancelled",
    ]
    assert whole.state["status"] == "cancelled"
    then = audit.history(engine, order, at=before_edit)
    assert (then.version, then.state["status"], then.state["shipping_fee"]) == (2, "new", 30_000)
    assert audit.history(engine, order, at=before_cancel).state["shipping_fee"] == 0


def test_history_names_what_it_cannot_find(engine: Engine) -> None:
    seller(engine)
    with pytest.raises(NotFoundError, match="order"):
        audit.parse_aggregate(engine, "shopee/NOPE")
    with pytest.raises(InvalidInputError, match="aggregate"):
        audit.parse_aggregate(engine, "not-an-order")
    order = place(engine, "H2", TEE=1)
    with pytest.raises(InvalidInputError, match="did not exist yet"):
        audit.history(engine, order, at=datetime(2000, 1, 1, tzinfo=UTC))
    assert audit.parse_aggregate(engine, "Shopee/H2") == Order.create_id("shopee", "H2")


def test_the_stock_card_lists_every_movement_with_running_balances(engine: Engine) -> None:
    seller(engine)  # TEE: HN 10, HCM 3
    engine.receive_stock("TEE", "HN", 5, reference="PN-7")
    order = place(engine, "C1", TEE=2)
    engine.transfer_stock("TEE", "HN", "HCM", 4)
    engine.cancel_order(order, "test")
    lines = list(audit.stock_card(engine, "TEE", ["HN", "HCM"]))
    assert [(line.warehouse, line.movement) for line in lines][-5:] == [
        ("HN", "Received"),
        ("HN", "Reserved"),
        ("HN", "TransferredOut"),
        ("HCM", "TransferredIn"),
        ("HN", "Released"),
    ]
    last = {line.warehouse: line for line in lines}
    assert (last["HN"].on_hand, last["HCM"].on_hand) == (11, 7)
    assert lines[-1].total_on_hand == 18 == sum(s.on_hand for s in engine.stock_of_sku("TEE"))
    moved_out = next(line for line in lines if line.movement == "TransferredOut")
    assert (moved_out.quantity_out, moved_out.quantity_in) == (4, 0)
    assert (
        sum(line.quantity_in - line.quantity_out for line in lines if line.warehouse == "HN") == 11
    )
