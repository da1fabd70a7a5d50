"""The catalogue and stock scenarios, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from orderflow import Engine, InsufficientStockError, InvalidInputError, NotFoundError, open_engine


def set_up(engine: Engine) -> None:
    engine.register_warehouse("HN", "Kho Ha Noi")
    engine.register_warehouse("HCM", "Kho Sai Gon", kind="secondary")
    engine.register_product(
        "TS", "Tee", attributes={"Color": ["Red", "Blue"]}, cost_price=50_000, sale_price=100_000,
        initial_stock={"TS-RED": {"HN": 10}},
    )


def test_received_reserved_and_shipped_units_balance_on_hand(engine: Engine) -> None:
    set_up(engine)
    engine.receive_stock("TS-RED", "HN", 5, "purchase_receipt", "PN-1")
    engine.reserve_stock("TS-RED", "HN", "order-1", 12)
    engine.ship_stock("TS-RED", "HN", "order-1", 7)
    level = engine.stock_level("TS-RED", "HN")
    assert (level.on_hand, level.reserved, level.available) == (8, 5, 3)


def test_reserving_more_than_available_is_refused_and_writes_nothing(engine: Engine) -> None:
    set_up(engine)
    before = engine.position()
    with pytest.raises(InsufficientStockError) as raised:
        engine.reserve_stock("TS-RED", "HN", "order-1", 11)
    assert raised.value.available == 10
    assert engine.position() == before


def test_a_stock_item_reloads_from_its_snapshot_after_a_long_history(store_url: str) -> None:
    engine = open_engine(store_url)
    set_up(engine)
    for _ in range(230):
        engine.receive_stock("TS-BLUE", "HCM", 1)
    engine.close()
    reopened = open_engine(store_url, cache_size=0)
    assert reopened.stock_level("TS-BLUE", "HCM").on_hand == 230
    assert reopened.snapshots is not None
    snapshots = list(reopened.snapshots.get(_stock_id("TS-BLUE", "HCM"), desc=True, limit=1))
    assert snapshots and snapshots[0].originator_version >= 200
    reopened.close()


def test_unknown_sku_and_warehouse_are_named_in_the_error(engine: Engine) -> None:
    set_up(engine)
    with pytest.raises(NotFoundError, match="sku"):
        engine.receive_stock("NOPE", "HN", 1)
    with pytest.raises(NotFoundError, match="warehouse"):
        engine.receive_stock("TS-RED", "XX", 1)
    with pytest.raises(InvalidInputError, match="quantity"):
        engine.receive_stock("TS-RED", "HN", 0)


def _stock_id(sku: str, warehouse: str):  # type: ignore[no-untyped-def]
    from orderflow.stock_item import StockItem

    return StockItem.create_id(sku, warehouse)
