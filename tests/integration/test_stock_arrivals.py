"""Stock that arrives any way (a manual receipt, a transfer, a count that found more, a
restocked return) goes to the orders waiting for it, oldest first, in the same command."""

from __future__ import annotations

from uuid import UUID

from orderflow import Engine
from tests.integration.fulfilment_setup import connected, delivered
from tests.integration.ordering_setup import levels, place, seller


def line(engine: Engine, order: UUID, sku: str) -> tuple[dict[str, int], int]:
    """Units of an order's line reserved per warehouse, and backordered."""
    found = next(item for item in engine.order(order).lines if item.sku == sku)
    return found.reserved, found.backordered


def test_a_manual_receipt_fills_the_oldest_waiting_orders(engine: Engine) -> None:
    seller(engine)
    first = place(engine, "1", RICE=2)
    second = place(engine, "2", TEE=2, RICE=1)
    third = place(engine, "3", RICE=4)
    engine.receive_stock("RICE", "HCM", 3, "correction", "found in the back room")
    assert [engine.order(o).fulfilment for o in (first, second, third)] == [
        "reserved",
        "reserved",
        "awaiting_stock",
    ]
    assert levels(engine, "RICE")["HCM"] == (3, 3)
    assert engine.allocate_waiting("RICE") == []  # nothing was left to catch up on


def test_a_receipt_fills_in_the_same_transaction(engine: Engine) -> None:
    seller(engine)
    waiting = place(engine, "1", RICE=2)
    before = engine.position()
    position = engine.receive_stock("RICE", "HN", 5, "correction")
    saved = engine.recorder.select_notifications(before + 1, 100)
    assert saved[-1].id == position  # one save: the receipt and the fill together
    topics = [n.topic.rsplit(":", 1)[1] for n in saved]
    assert {"StockItem.Received", "StockItem.Reserved", "Order.Allocated"} <= set(topics)
    assert line(engine, waiting, "RICE") == ({"HN": 2}, 0)
    assert levels(engine, "RICE")["HN"] == (5, 2)


def test_a_transfer_fills_orders_waiting_where_the_goods_arrive(engine: Engine) -> None:
    seller(engine)
    engine.deactivate_warehouse("HN", "stocktaking")  # its 10 TEE cannot be sold from there
    waiting = place(engine, "1", TEE=5)  # 3 from HCM, 2 waiting
    assert line(engine, waiting, "TEE") == ({"HCM": 3}, 2)
    engine.transfer_stock("TEE", "HN", "HCM", 4, "truck 7")
    assert engine.order(waiting).fulfilment == "reserved"
    assert levels(engine, "TEE") == {"HN": (6, 0), "HCM": (7, 5)}


def test_a_count_that_finds_more_fills_waiting_orders(engine: Engine) -> None:
    seller(engine)
    waiting = place(engine, "1", RICE=2, MUG=1)
    engine.record_stock_count("HN", {"RICE": 3, "TEE": 9}, counted_by="Lan")  # one TEE lost
    assert engine.order(waiting).fulfilment == "reserved"
    assert levels(engine, "RICE")["HN"] == (3, 2)
    assert levels(engine, "TEE")["HN"] == (9, 0)


def test_a_count_in_an_inactive_warehouse_fills_nothing(engine: Engine) -> None:
    seller(engine)
    waiting = place(engine, "1", RICE=2)
    engine.deactivate_warehouse("HCM", "flooded")
    engine.record_stock_count("HCM", {"RICE": 3})
    assert line(engine, waiting, "RICE") == ({}, 2)
    assert levels(engine, "RICE")["HCM"] == (3, 0)


def test_a_restocked_return_fills_waiting_orders(engine: Engine) -> None:
    world = connected(engine)
    bought, _ = delivered(world, "1", MUG=5)  # every MUG there is
    waiting = place(engine, "2", MUG=1)
    assert line(engine, waiting, "MUG") == ({}, 1)
    engine.receive_return(bought, [{"sku": "MUG", "quantity": 1, "condition": "resellable"}])
    assert line(engine, waiting, "MUG") == ({"HCM": 1}, 0)


def test_a_damaged_return_fills_nothing(engine: Engine) -> None:
    world = connected(engine)
    bought, _ = delivered(world, "1", MUG=5)
    waiting = place(engine, "2", MUG=1)
    engine.receive_return(bought, [{"sku": "MUG", "quantity": 1, "condition": "damaged"}])
    assert line(engine, waiting, "MUG") == ({}, 1)


def test_a_reactivated_warehouse_fills_orders_waiting_for_its_stock(engine: Engine) -> None:
    seller(engine)
    engine.deactivate_warehouse("HN", "stocktaking")  # its 10 TEE cannot be sold meanwhile
    waiting = place(engine, "1", TEE=5)  # 3 from HCM, 2 waiting
    engine.reactivate_warehouse("HN")
    assert line(engine, waiting, "TEE") == ({"HCM": 3, "HN": 2}, 0)
    assert levels(engine, "TEE")["HN"] == (10, 2)
