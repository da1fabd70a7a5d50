"""Several OS processes reserve from one stock item at once, on PostgreSQL and on SQLite: no
more is ever reserved than is on hand, and every reservation that returned is in the store.

The parent creates the tables once; the workers start with create_tables=False (constructing
the schema from several processes at once is itself racy, see the concurrency notes), wait on a
barrier, then each tries to reserve for its own orders until the item runs out.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from typing import Any

from orderflow import (
    ConcurrencyError,
    InsufficientStockError,
    StoreConfig,
    open_engine,
)
from orderflow.event_log import read_log

WORKERS = 4
ORDERS_PER_WORKER = 10
UNITS_PER_ORDER = 2
ON_HAND = 31  # less than the 80 units asked for; odd, so one unit is always left over


def reserve_in_a_worker(url: str, worker: int, start: Any, results: Any) -> None:
    """One worker process: reserve UNITS_PER_ORDER for each of its orders, report outcomes."""
    engine = open_engine(StoreConfig(url, create_tables=False))
    saves = 0
    save = engine.save

    def counting_save(*args: Any, **kwargs: Any) -> Any:
        nonlocal saves
        saves += 1
        return save(*args, **kwargs)

    engine.save = counting_save  # type: ignore[method-assign]
    outcomes: list[tuple[str, str]] = []
    start.wait(timeout=60)
    for n in range(ORDERS_PER_WORKER):
        order = f"w{worker}-o{n}"
        try:
            engine.reserve_stock("TS-RED", "HN", order, UNITS_PER_ORDER)
            outcomes.append((order, "reserved"))
        except InsufficientStockError:
            outcomes.append((order, "refused"))
        except ConcurrencyError:
            outcomes.append((order, "gave up"))
    engine.close()
    results.put((worker, outcomes, saves))


def test_processes_racing_for_one_stock_item_never_reserve_more_than_is_on_hand(
    store_url: str,
) -> None:
    parent = open_engine(store_url)
    parent.register_warehouse("HN", "Kho Ha Noi")
    parent.register_product("TS", "Tee", attributes={"Color": ["Red"]}, sale_price=100_000)
    parent.receive_stock("TS-RED", "HN", ON_HAND, "initial")
    parent.close()

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    results = context.Queue()
    processes = [
        context.Process(target=reserve_in_a_worker, args=(store_url, w, start, results))
        for w in range(WORKERS)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    outcomes = Counter(outcome for _, lines, _ in reports for _, outcome in lines)
    reserved_orders = sorted(
        order for _, lines, _ in reports for order, o in lines if o == "reserved"
    )
    saves = sum(n for _, _, n in reports)

    engine = open_engine(store_url, cache_size=0)
    level = engine.stock_level("TS-RED", "HN")
    stored = [
        engine.mapper.to_domain_event(n)
        for n in read_log(engine.recorder)
        if n.topic.endswith("StockItem.Reserved")
    ]
    engine.close()

    assert level.on_hand == ON_HAND
    assert level.reserved <= level.on_hand and level.available >= 0
    assert level.reserved == UNITS_PER_ORDER * outcomes["reserved"]
    assert sorted(e.order_id for e in stored) == reserved_orders  # type: ignore[attr-defined]
    assert outcomes["gave up"] == 0, f"{outcomes['gave up']} reservations gave up retrying"
    assert level.available == ON_HAND % UNITS_PER_ORDER  # every unit that could go, went
    assert outcomes["refused"] == WORKERS * ORDERS_PER_WORKER - ON_HAND // UNITS_PER_ORDER
    print(f"\n{store_url.split(':')[0]}: {dict(outcomes)}, {saves} save attempts")
