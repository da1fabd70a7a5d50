"""The stock scenarios, run on SQLite and PostgreSQL alike: movements, counts, transfers, bad
input that writes nothing, and snapshots that keep loading cheap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from orderflow import (
    Engine,
    InsufficientStockError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    OrderflowError,
    open_engine,
)
from orderflow.event_log import read_log
from orderflow.stock_item import StockItem


def set_up(engine: Engine) -> None:
    engine.register_warehouse("HN", "Kho Ha Noi")
    engine.register_warehouse("HCM", "Kho Sai Gon", kind="secondary")
    engine.register_warehouse("DN", "Kho Da Nang", kind="branch")
    engine.register_product(
        "TS",
        "Tee",
        attributes={"Color": ["Red", "Blue"]},
        cost_price=50_000,
        sale_price=100_000,
        initial_stock={"TS-RED": {"HN": 10}},
    )


def levels(engine: Engine, sku: str, warehouse: str) -> tuple[int, int, int]:
    level = engine.stock_level(sku, warehouse)
    return level.on_hand, level.reserved, level.available


def stored_event_names(engine: Engine) -> list[str]:
    """The stock items' events in log order (receipts also offer units to waiting orders, in
    Backlog events of their own)."""
    topics = read_log(engine.recorder)
    return [n.topic.rpartition(".")[2] for n in topics if ":StockItem." in n.topic]


# scenarios -------------------------------------------------------------------------------------
def test_received_reserved_and_shipped_units_balance_on_hand(engine: Engine) -> None:
    set_up(engine)
    engine.receive_stock("TS-RED", "HN", 5, "purchase_receipt", "PN-1")
    engine.reserve_stock("TS-RED", "HN", "order-1", 12)
    engine.ship_stock("TS-RED", "HN", "order-1", 7)
    assert levels(engine, "TS-RED", "HN") == (8, 5, 3)


def test_every_kind_of_movement_adds_up(engine: Engine) -> None:
    set_up(engine)
    engine.receive_stock("TS-RED", "HN", 5, "return", "RT-1")  # 15
    engine.reserve_stock("TS-RED", "HN", "web-1", 6)
    engine.release_stock("TS-RED", "HN", "web-1", 2, "buyer changed size")
    engine.ship_stock("TS-RED", "HN", "web-1", 4, "GHN-1")  # 11
    engine.restock_return("TS-RED", "HN", 1, "RT-2")  # 12
    engine.write_off_stock("TS-RED", "HN", 2, "torn", "HUY-1")  # 10
    engine.transfer_stock("TS-RED", "HN", "HCM", 3, "CK-1")  # 7 / 3
    assert levels(engine, "TS-RED", "HN") == (7, 0, 7)
    assert levels(engine, "TS-RED", "HCM") == (3, 0, 3)
    assert stored_event_names(engine)[-9:] == [
        "Received",
        "Reserved",
        "Released",
        "Shipped",
        "Restocked",
        "WrittenOff",
        "TransferredOut",
        "Opened",  # the first units of TS-RED in HCM open its stock item
        "TransferredIn",
    ]


def test_releasing_everything_for_an_order_that_holds_nothing_writes_nothing(
    engine: Engine,
) -> None:
    set_up(engine)
    before = engine.position()
    assert engine.release_stock("TS-BLUE", "HCM", "web-9") == before
    assert engine.position() == before


def test_a_stock_count_adjusts_each_sku_and_reports_the_differences(engine: Engine) -> None:
    set_up(engine)
    engine.receive_stock("TS-BLUE", "HN", 4)
    report = engine.record_stock_count(
        "HN", {"TS-RED": 8, "ts-blue": 6}, counted_by="Lan", reference="KK-1"
    )
    assert [(c.sku, c.expected, c.counted, c.difference) for c in report.lines] == [
        ("TS-RED", 10, 8, -2),
        ("TS-BLUE", 4, 6, 2),
    ]
    assert (report.warehouse, report.reference, report.counted_by) == ("HN", "KK-1", "Lan")
    assert report.total_difference == 0
    assert levels(engine, "TS-RED", "HN") == (8, 0, 8)
    assert levels(engine, "TS-BLUE", "HN") == (6, 0, 6)


def test_stock_of_a_sku_lists_every_warehouse_including_empty_ones(engine: Engine) -> None:
    set_up(engine)
    engine.transfer_stock("TS-RED", "HN", "HCM", 4)
    assert [(s.warehouse, s.on_hand) for s in engine.stock_of_sku("ts-red")] == [
        ("HN", 6),
        ("HCM", 4),
        ("DN", 0),
    ]


def test_stock_in_a_warehouse_lists_only_the_skus_stocked_there(engine: Engine) -> None:
    set_up(engine)
    engine.receive_stock("TS-BLUE", "HCM", 3)
    engine.receive_stock("TS-RED", "HCM", 2)
    assert [(s.sku, s.on_hand) for s in engine.stock_in_warehouse("HCM")] == [
        ("TS-BLUE", 3),
        ("TS-RED", 2),
    ]
    assert engine.stock_in_warehouse("DN") == []


def test_a_deactivated_warehouse_takes_no_receipts_but_its_stock_can_still_leave(
    engine: Engine,
) -> None:
    set_up(engine)
    engine.reserve_stock("TS-RED", "HN", "web-1", 2)
    engine.deactivate_warehouse("HN", "moving")
    with pytest.raises(InvalidInputError, match=r"^warehouse: warehouse HN is inactive"):
        engine.receive_stock("TS-RED", "HN", 1)
    engine.ship_stock("TS-RED", "HN", "web-1", 2)
    engine.transfer_stock("TS-RED", "HN", "HCM", 8)
    assert levels(engine, "TS-RED", "HN") == (0, 0, 0)


# bad input: the field is named, nothing is written ---------------------------------------------
Case = tuple[Callable[[Engine], Any], type[OrderflowError], str]

BAD_INPUT: dict[str, Case] = {
    "zero quantity": (
        lambda e: e.receive_stock("TS-RED", "HN", 0),
        InvalidInputError,
        r"^quantity: must be more than 0, got 0",
    ),
    "negative quantity": (
        lambda e: e.reserve_stock("TS-RED", "HN", "web-1", -2),
        InvalidInputError,
        r"^quantity: must be more than 0, got -2",
    ),
    "quantity that is not a number": (
        lambda e: e.receive_stock("TS-RED", "HN", "ten"),  # type: ignore[arg-type]
        InvalidInputError,
        r"^quantity: 'ten' is not a whole number",
    ),
    "unknown SKU": (
        lambda e: e.receive_stock("NOPE", "HN", 1),
        NotFoundError,
        r"^sku: no SKU 'NOPE'",
    ),
    "unknown warehouse": (
        lambda e: e.receive_stock("TS-RED", "XX", 1),
        NotFoundError,
        r"^warehouse: no warehouse 'XX'",
    ),
    "unknown receipt reason": (
        lambda e: e.receive_stock("TS-RED", "HN", 1, "gift"),
        InvalidInputError,
        r"^reason: unknown reason 'gift'",
    ),
    "reserving more than available": (
        lambda e: e.reserve_stock("TS-RED", "HN", "web-2", 8),
        InsufficientStockError,
        r"^quantity: cannot reserve 8 of TS-RED in HN, only 7 available",
    ),
    "releasing more than reserved": (
        lambda e: e.release_stock("TS-RED", "HN", "web-1", 4),
        InvalidInputError,
        r"^quantity: cannot release 4 of TS-RED in HN: only 3 reserved for order web-1",
    ),
    "shipping more than reserved": (
        lambda e: e.ship_stock("TS-RED", "HN", "web-1", 5),
        InvalidInputError,
        r"^quantity: cannot ship 5 of TS-RED in HN: only 3 reserved for order web-1",
    ),
    "shipping for an order holding nothing": (
        lambda e: e.ship_stock("TS-RED", "HN", "web-7", 1),
        InvalidInputError,
        r"^quantity: cannot ship 1 .* only 0 reserved for order web-7",
    ),
    "writing off reserved units": (
        lambda e: e.write_off_stock("TS-RED", "HN", 8, "broken"),
        InsufficientStockError,
        r"^quantity: cannot write off 8",
    ),
    "write-off without a reason": (
        lambda e: e.write_off_stock("TS-RED", "HN", 1, ""),
        InvalidInputError,
        r"^reason: must not be empty",
    ),
    "transfer into the same warehouse": (
        lambda e: e.transfer_stock("TS-RED", "HN", "hn", 1),
        InvalidInputError,
        r"^to_warehouse: must differ from the source warehouse",
    ),
    "transfer of more than available": (
        lambda e: e.transfer_stock("TS-RED", "HN", "HCM", 9),
        InsufficientStockError,
        r"^quantity: cannot transfer 9",
    ),
    "transfer to an unknown warehouse": (
        lambda e: e.transfer_stock("TS-RED", "HN", "XX", 1),
        NotFoundError,
        r"^warehouse: no warehouse 'XX'",
    ),
    "negative count": (
        lambda e: e.record_stock_count("HN", {"TS-RED": -1}),
        InvalidInputError,
        r"^counts.TS-RED: must be a whole number of at least 0",
    ),
    "count with an unknown SKU after a good one": (
        lambda e: e.record_stock_count("HN", {"TS-RED": 9, "NOPE": 1}),
        NotFoundError,
        r"^sku: no SKU 'NOPE'",
    ),
    "count below the reserved units after a good one": (
        lambda e: e.record_stock_count("HN", {"TS-BLUE": 4, "TS-RED": 2}),
        InvalidStateError,
        r"^stock count of TS-RED in HN: counted 2 is below the 3 units reserved",
    ),
    "count naming one SKU twice": (
        lambda e: e.record_stock_count("HN", {"TS-RED": 9, "ts-red": 8}),
        InvalidInputError,
        r"^counts: TS-RED is counted twice",
    ),
    "empty count": (
        lambda e: e.record_stock_count("HN", {}),
        InvalidInputError,
        r"^counts: count at least one SKU",
    ),
    "empty order id": (
        lambda e: e.reserve_stock("TS-RED", "HN", " ", 1),
        InvalidInputError,
        r"^order_id: must not be empty",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_stock_input_names_the_field_and_writes_nothing(engine: Engine, case: str) -> None:
    command, error, message = BAD_INPUT[case]
    set_up(engine)
    engine.reserve_stock("TS-RED", "HN", "web-1", 3)
    before = engine.position()
    with pytest.raises(error, match=message):
        command(engine)
    assert engine.position() == before
    assert levels(engine, "TS-RED", "HN") == (10, 3, 7)


# snapshots -------------------------------------------------------------------------------------
class CountingReads:
    """Counts the stored events the engine reads for one aggregate."""

    def __init__(self, engine: Engine, aggregate_id: UUID) -> None:
        self.events = 0
        recorder = engine.events.recorder
        select = recorder.select_events

        def counting(originator_id: Any, **kwargs: Any) -> Any:
            rows = select(originator_id, **kwargs)
            if originator_id == aggregate_id:
                self.events += len(rows)
            return rows

        recorder.select_events = counting  # type: ignore[method-assign]


def test_loading_a_stock_item_after_1000_events_reads_its_snapshot_not_its_history(
    store_url: str,
) -> None:
    writer = open_engine(store_url)
    set_up(writer)
    for _ in range(1000):
        writer.receive_stock("TS-BLUE", "HCM", 1)
    writer.close()

    reader = open_engine(store_url, cache_size=0)
    item_id = StockItem.create_id("TS-BLUE", "HCM")
    reads = CountingReads(reader, item_id)
    assert reader.stock_level("TS-BLUE", "HCM").on_hand == 1000
    assert reader.snapshots is not None
    [snapshot] = reader.snapshots.get(item_id, desc=True, limit=1)
    assert snapshot.originator_version == 1000  # Opened + 1000 receipts = version 1001
    assert reads.events == 1  # only the event after the snapshot
    reader.close()


def test_a_stock_item_reloads_from_its_snapshot_after_a_long_history(store_url: str) -> None:
    engine = open_engine(store_url)
    set_up(engine)
    for _ in range(230):
        engine.receive_stock("TS-BLUE", "HCM", 1)
    engine.close()
    reopened = open_engine(store_url, cache_size=0)
    assert reopened.stock_level("TS-BLUE", "HCM").on_hand == 230
    assert reopened.snapshots is not None
    item_id = StockItem.create_id("TS-BLUE", "HCM")
    snapshots = list(reopened.snapshots.get(item_id, desc=True, limit=1))
    assert snapshots and snapshots[0].originator_version == 200
    reopened.close()
