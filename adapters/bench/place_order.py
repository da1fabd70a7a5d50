"""Scenarios: placing orders (3 lines, reservation) — throughput vs raw inserts, latency at a
fixed arrival rate, and several processes racing for a few hot SKUs."""

from __future__ import annotations

import multiprocessing
import random
import time
from collections.abc import Iterator
from typing import Any

from orderflow.adapters.bench.baseline import (
    RawWriter,
    group_transactions,
    raw_latencies,
    stored_rows,
)
from orderflow.adapters.bench.result import Result
from orderflow.adapters.bench.stores import fresh_store

from orderflow import engine_base
from orderflow.engine import Engine, open_engine
from orderflow.errors import ConcurrencyError
from orderflow.store import StoreConfig

SKUS = [f"SKU{i:03d}" for i in range(30)]
BUYER = {"name": "Nguyen Van A", "phone": "0912345678", "email": ""}
ADDRESS = {
    "street": "12 Pham Van Dong",
    "ward": "Dich Vong",
    "province": "Ha Noi",
    "province_code": "01",
}
PLACED_TOPIC = "orderflow.order:Order.Placed"


def set_up(url: str, skus: list[str], stock: int) -> None:
    engine = open_engine(url)
    engine.register_warehouse("HN", "Kho Ha Noi")
    engine.register_warehouse("HCM", "Kho Sai Gon", kind="secondary")
    for sku in skus:
        engine.register_product(
            sku,
            f"product {sku}",
            cost_price=50_000,
            sale_price=120_000,
            initial_stock={sku: {"HN": stock}},
        )
    engine.close()


def place(
    engine: Engine, number: int, skus: list[str], rng: random.Random, prefix: str = "b"
) -> None:
    lines = [{"sku": sku, "quantity": rng.randint(1, 2)} for sku in rng.sample(skus, 3)]
    engine.place_order("web", f"{prefix}-{number}", BUYER, ADDRESS, lines, shipping_fee=30_000)


def throughput(backend: str, quick: bool) -> Iterator[Result]:
    """Engine and raw baseline in alternating rounds: each round's orders, then the same rows
    through the bare driver, so both see the same machine (a shared machine's load moves by
    the minute; measured one after the other, a burst in one half skewed the ratio)."""
    rounds, per_round = (2, 150) if quick else (6, 500)
    rng = random.Random(7)
    engine_seconds = raw_seconds = 0.0
    transactions, round_ratios, rows = 0, [], 0
    with fresh_store(backend) as url:
        set_up(url, SKUS, 1_000_000)
        engine = open_engine(url)
        raw = RawWriter(url)
        try:
            for i in range(50):  # warm the cache
                place(engine, i, SKUS, rng, "warm")
            for r in range(rounds):
                start = engine.position()
                started = time.perf_counter()
                for i in range(r * per_round, (r + 1) * per_round):
                    place(engine, i, SKUS, rng)
                spent = time.perf_counter() - started
                stored = stored_rows(url, start)
                groups = group_transactions(stored, lambda row: row[2] == PLACED_TOPIC)
                raw_spent = raw.write(groups)
                engine_seconds, raw_seconds = engine_seconds + spent, raw_seconds + raw_spent
                transactions, rows = transactions + len(groups), rows + len(stored)
                round_ratios.append(round((per_round / spent) / (len(groups) / raw_spent), 3))
        finally:
            raw.close()
            engine.close()
    rate, baseline = rounds * per_round / engine_seconds, transactions / raw_seconds
    floor = 0.6 if backend == "postgres" else 0.5
    yield Result(
        "place-order, 3 lines with reservation, one process",
        backend,
        rate,
        "orders/s",
        baseline,
        f">= {floor} x raw inserts of the same rows",
        rate >= floor * baseline,
        {
            "orders": rounds * per_round,
            "rows_per_order": round(rows / max(transactions, 1), 2),
            "round_ratios": round_ratios,
        },
    )


def latency(backend: str, quick: bool) -> Iterator[Result]:
    rate, seconds = 200, (3 if quick else 20)
    rng = random.Random(11)
    with fresh_store(backend) as url:
        set_up(url, SKUS, 1_000_000)
        engine = open_engine(url)
        for i in range(50):
            place(engine, i, SKUS, rng, "warm")
        samples = []
        interval = 1 / rate
        start = engine.position()
        begin = time.perf_counter()
        for i in range(rate * seconds):
            due = begin + i * interval  # open loop: latency counts from the arrival, not the start
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            place(engine, i, SKUS, rng)
            samples.append(time.perf_counter() - due)
        engine.close()
        raw: list[float] = []
        if backend == "postgres":  # the same rows, same arrivals, bare driver: the machine's floor
            groups = group_transactions(stored_rows(url, start), lambda r: r[2] == PLACED_TOPIC)
            raw = raw_latencies(url, groups, rate)
    p50, p99, p999 = percentiles(samples)
    names = ("raw_p50_ms", "raw_p99_ms", "raw_p99.9_ms")
    floor = dict(zip(names, percentiles(raw), strict=True)) if raw else {}
    yield Result(
        f"place-order latency at {rate} orders/s (p99)",
        backend,
        p99,
        "ms",
        None,
        "p99 <= 10 ms",
        p99 <= 10,
        {
            "p50_ms": round(p50, 2),
            "p99_ms": round(p99, 2),
            "p99.9_ms": round(p999, 2),
            "orders": len(samples),
            **{k: round(v, 2) for k, v in floor.items()},
        },
    )


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p99 and p99.9 of latencies in seconds, in milliseconds."""
    ordered = sorted(samples)
    return tuple(ordered[int(q * (len(ordered) - 1))] * 1000 for q in (0.5, 0.99, 0.999))  # type: ignore[return-value]


def _racer(url: str, worker: int, orders: int, skus: list[str], out: Any) -> None:
    """Place orders in a separate process; always report, even when some commands gave up."""
    placed = gave_up = 0
    started = time.perf_counter()
    try:
        engine = open_engine(StoreConfig(url=url, create_tables=False))
        rng = random.Random(worker)
        for i in range(orders):
            try:
                place(engine, i, skus, rng, f"w{worker}")
                placed += 1
            except ConcurrencyError:
                gave_up += 1
        engine.close()
    finally:
        out.put((placed, time.perf_counter() - started, engine_base.conflict_retries, gave_up))


def hot_skus(backend: str, quick: bool) -> Iterator[Result]:
    workers, orders, stock = 4, (40 if quick else 250), (60 if quick else 300)
    hot = SKUS[:4]
    with fresh_store(backend) as url:
        set_up(url, hot, stock)
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        started = time.perf_counter()
        procs = [
            context.Process(target=_racer, args=(url, w, orders, hot, out)) for w in range(workers)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=600)
        reports = [out.get(timeout=5) for p in procs if p.exitcode == 0]
        if len(reports) != workers:
            raise RuntimeError(f"hot-skus: {workers - len(reports)} worker process(es) failed")
        wall = time.perf_counter() - started
        engine = open_engine(url)
        levels = [engine.stock_level(sku, "HN") for sku in hot]
        engine.close()
    oversold = sum(max(0, level.reserved - level.on_hand) for level in levels)
    placed = sum(r[0] for r in reports)
    retries = sum(r[2] for r in reports)
    yield Result(
        f"{workers} processes, orders on {len(hot)} hot SKUs",
        backend,
        placed / wall,
        "orders/s",
        None,
        "zero oversold units",
        oversold == 0,
        {
            "oversold_units": oversold,
            "orders": placed,
            "conflict_retries": retries,
            "retries_per_order": round(retries / max(placed, 1), 3),
            "gave_up": sum(r[3] for r in reports),
            "reserved_units": sum(level.reserved for level in levels),
            "stock_units": stock * len(hot),
        },
    )
