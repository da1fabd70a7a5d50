"""Scenario: the cost of a stock command does not grow with the StockItem's history."""

from __future__ import annotations

import time
from collections.abc import Iterator

from orderflow.adapters.bench.result import Result
from orderflow.adapters.bench.stores import fresh_store

from orderflow.engine import Engine, open_engine
from orderflow.stock_item import ReceiptReason, StockItem


def grow_history(engine: Engine, sku: str, warehouse: str, events: int, chunk: int = 5_000) -> None:
    """Append `events` receipts to one StockItem quickly: many events per save."""
    item_id = StockItem.create_id(sku, warehouse)
    item = engine._load_or_none(StockItem, item_id) or StockItem(sku=sku, warehouse=warehouse)
    written = 0
    while written < events:
        for _ in range(min(chunk, events - written)):
            item.receive(1, ReceiptReason.CORRECTION, "bench")
        written += min(chunk, events - written)
        engine.save(item)


def command_seconds(engine: Engine, sku: str, warehouse: str, repeats: int) -> float:
    """Median seconds of one reserve + release pair (two commands, two saves)."""
    samples = []
    for i in range(repeats):
        started = time.perf_counter()
        engine.reserve_stock(sku, warehouse, f"bench-{i}", 1)
        engine.release_stock(sku, warehouse, f"bench-{i}")
        samples.append((time.perf_counter() - started) / 2)
    samples.sort()
    return samples[len(samples) // 2]


def run(backend: str, quick: bool) -> Iterator[Result]:
    history = 10_000 if quick else 100_000
    repeats = 30 if quick else 200
    with fresh_store(backend) as url:
        setup = open_engine(url)
        setup.register_warehouse("HN", "Kho Ha Noi")
        setup.register_product("OLD", "long history", sale_price=1000)
        setup.register_product("NEW", "fresh", sale_price=1000)
        setup.receive_stock("NEW", "HN", 1_000)
        grow_history(setup, "OLD", "HN", history)
        setup.close()
        for label, cache in (("cold load (no cache)", 0), ("default cache", 10_000)):
            engine = open_engine(url, cache_size=cache)
            fresh = command_seconds(engine, "NEW", "HN", repeats)
            old = command_seconds(engine, "OLD", "HN", repeats)
            engine.close()
            yield Result(
                scenario=f"stock command on {history:,}-event StockItem, {label}",
                backend=backend,
                value=old * 1000,
                unit="ms/command",
                baseline=fresh * 1000,
                target="<= 1.5x fresh",
                met=old <= 1.5 * fresh,
                details={"fresh_ms": round(fresh * 1000, 3), "history_events": history},
            )
