"""Several processes place orders for the same few SKUs at once on PostgreSQL: nothing oversold."""

from __future__ import annotations

import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor
from uuid import UUID

from orderflow import Engine, open_engine
from orderflow.backlog import Backlog
from orderflow.order import Order
from orderflow.stock_item import StockItem
from tests.integration.ordering_setup import ADDRESS, BUYER

PROCESSES = 4
ORDERS_PER_PROCESS = 25
SHARED_ORDERS = 5  # every process places these same external ids too
SKUS = {"A": {"HN": 12, "HCM": 8}, "B": {"HN": 6}, "C": {"HCM": 3}}
WAREHOUSES = ("HN", "HCM")


def stocked_store(url: str) -> None:
    engine = open_engine(url)
    for code in WAREHOUSES:
        engine.register_warehouse(code, f"Kho {code}")
    for sku, stock in SKUS.items():
        engine.register_product(
            sku, sku, cost_price=10_000, sale_price=20_000, initial_stock={sku: stock}
        )
    engine.close()


def place_orders(url: str, worker: int) -> list[UUID]:
    """One process: its own orders plus the shared ones, random SKUs and quantities."""
    rng = random.Random(worker)
    engine = open_engine(url)
    numbers = [f"w{worker}-{i}" for i in range(ORDERS_PER_PROCESS)] + [
        f"shared-{i}" for i in range(SHARED_ORDERS)
    ]
    rng.shuffle(numbers)
    placed = []
    for number in numbers:
        picked = rng.sample(sorted(SKUS), rng.randint(1, 3))
        lines = [{"sku": sku, "quantity": rng.randint(1, 3)} for sku in picked]
        placed.append(engine.place_order("shopee", number, BUYER, ADDRESS, lines))
    engine.close()
    return placed


def test_processes_racing_for_the_same_skus_never_oversell_and_counts_reconcile(
    postgres_url: str,
) -> None:
    stocked_store(postgres_url)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(PROCESSES, mp_context=context) as pool:
        results = list(pool.map(place_orders, [postgres_url] * PROCESSES, range(PROCESSES)))
    engine = open_engine(postgres_url)
    try:
        order_ids = set(engine._ids_of(Order.Placed))
        assert order_ids == {i for placed in results for i in placed}
        assert len(order_ids) == PROCESSES * ORDERS_PER_PROCESS + SHARED_ORDERS
        orders = [engine._order(i) for i in order_ids]
        for sku in SKUS:
            reconcile(engine, sku, orders)
    finally:
        engine.close()


def reconcile(engine: Engine, sku: str, orders: list[Order]) -> None:
    ordered = sum(o.ordered(sku) for o in orders)
    for o in orders:  # every unit of every line is either reserved or waiting
        assert o.allocated(sku) + o.backordered(sku) == o.ordered(sku)
        assert o.fulfilment == ("reserved" if not o.backorders else "awaiting_stock")
    reserved = 0
    for code in WAREHOUSES:
        item = engine._load_or_none(StockItem, StockItem.create_id(sku, code))
        held = {str(o.id): o.allocated(sku, code) for o in orders if o.allocated(sku, code)}
        assert (item.reservations if item else {}) == held  # the stock agrees with the orders
        assert not item or item.available >= 0  # never oversold
        reserved += item.reserved if item else 0
    backordered = sum(o.backordered(sku) for o in orders)
    assert reserved + backordered == ordered
    assert reserved == min(ordered, sum(SKUS[sku].values()))  # nothing waits while stock is free
    backlog = engine._load_or_none(Backlog, Backlog.create_id(sku))
    assert (backlog.waiting if backlog else 0) == backordered
