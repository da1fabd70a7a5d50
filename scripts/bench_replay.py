"""Replay benchmark: rebuild every read model and export the log as JSON lines, on PostgreSQL.

    .venv/bin/python scripts/bench_replay.py                       # 250k and 1M events
    .venv/bin/python scripts/bench_replay.py --checkpoints 20000,80000 --json results.json

Fills a fresh database (ORDERFLOW_BENCH_POSTGRES_URL's server, dropped afterwards; or --url to
use an existing empty database and keep it) with realistic events: stock receipts, orders
placed with their reservations, some cancelled (about five events per order, saved in batches
so generating a million takes a minute or two). At each checkpoint it measures, each in a
process of its own so that peak memory is that of the work alone:
- rebuild: `admin.rebuild` of every view (one pass over the log), events/s, peak RSS, and the
  CPU seconds of the rebuilding process (user + system: less noisy than wall time on a shared
  machine; the database's own CPU is not in it);
- export: `orderflow events --json > /dev/null` (the real CLI), events/s and peak RSS;
and a raw baseline in the same run: the log read with plain psycopg (no decoding), events/s.
The load average is printed with each checkpoint: other work on the machine slows every figure.
Flat rates from one checkpoint to the next show that both stream (cost per event does not grow).

`--only rebuild,raw_read` measures a subset; `--url` with a log already at the checkpoint
measures without generating (e.g. the same log with another version of the code, through
PYTHONPATH, which the measuring processes inherit). PYTHONPATH alone swaps only `orderflow/`:
the editable install maps `orderflow.projections` and `orderflow.adapters` to this checkout
whatever PYTHONPATH says. So point it at a folder holding the other version as one package,
and run from outside any checkout (the measuring processes put their working directory first):

    git worktree add /tmp/old REV && mkdir -p /tmp/old-pkg && cp -r /tmp/old/orderflow /tmp/old-pkg/
    ln -s /tmp/old/projections /tmp/old-pkg/orderflow/projections
    ln -s /tmp/old/adapters /tmp/old-pkg/orderflow/adapters
    cd /tmp && PYTHONPATH=/tmp/old-pkg "$CHECKOUT/.venv/bin/python" \
        /tmp/old/scripts/bench_replay.py --url ... --only rebuild,raw_read
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SKUS = 40
ORDERS_PER_SAVE = 50
BUYER = {"name": "Nguyen Van An", "phone": "0901 234 567"}
ADDRESS = {"street": "12 Ly Thuong Kiet", "ward": "Hang Bai", "province": "Ha Noi"}


# generating events -------------------------------------------------------------------------------
def set_up(engine: Any) -> None:
    """Two warehouses and SKUS products with stock in both."""
    engine.register_warehouse("HN", "Kho Ha Noi")
    engine.register_warehouse("HCM", "Kho Sai Gon", kind="secondary")
    for n in range(SKUS):
        engine.register_product(
            f"P{n:03d}",
            f"Product {n}",
            cost_price=50_000 + n * 1000,
            sale_price=99_000 + n * 2000,
            vat_rate="10" if n % 3 else "8",
            initial_stock={f"P{n:03d}": {"HN": 1000, "HCM": 1000}},
        )


def generate(engine: Any, until: int, seed: int = 7) -> int:
    """Append orders (reservations, receipts, some cancellations) until the log reaches `until`."""
    from orderflow.order import Order
    from orderflow.stock_item import ReceiptReason, StockItem

    if engine.position() == 0:
        set_up(engine)
    rng = random.Random(seed + engine.position())
    items: dict[tuple[str, str], Any] = {}
    serial = engine.position()

    def item(sku: str, warehouse: str) -> Any:
        key = (sku, warehouse)
        if key not in items:
            items[key] = engine.repository.get(StockItem.create_id(sku, warehouse))
        return items[key]

    while engine.position() < until:
        orders, touched = [], {}
        for _ in range(ORDERS_PER_SAVE):
            serial += 1
            sku, warehouse = f"P{rng.randrange(SKUS):03d}", rng.choice(("HN", "HCM"))
            quantity = rng.randint(1, 3)
            order = Order.place(
                rng.choice(("shopee", "lazada", "tiktok", "web")),
                f"B{serial}",
                BUYER,
                ADDRESS,
                [
                    {
                        "sku": sku,
                        "name": sku,
                        "quantity": quantity,
                        "unit_price": 99_000,
                        "vat_rate": "10",
                    }
                ],
                shipping_fee=30_000,
            )
            stock = item(sku, warehouse)
            stock.receive(quantity, ReceiptReason.PURCHASE_RECEIPT, f"PN-{serial}")
            stock.reserve(order.id, quantity)
            order.allocate(sku, warehouse, quantity)
            if serial % 10 == 0:
                order.cancel("buyer changed their mind")
                stock.release(order.id, quantity, "order cancelled")
            orders.append(order)
            touched[(sku, warehouse)] = stock
        engine.save(*orders, *touched.values())
    return int(engine.position())


# measuring ---------------------------------------------------------------------------------------
def in_child(argv: list[str], stdout: Any = subprocess.DEVNULL) -> dict[str, float]:
    """Run a command in a process of its own; wall seconds and its peak memory in MB."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
        " code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True
    )
    seconds, peak_kb, code = out.stdout.split()
    if code != "0":
        raise RuntimeError(f"{argv} exited with {code}")
    return {"seconds": float(seconds), "peak_mb": int(peak_kb) / 1024}


def measure_rebuild(url: str) -> dict[str, float]:
    """Rebuild every view in a child process; the time of the rebuild alone is reported by it."""
    code = (
        "import json, resource, sys, time\n"
        "from orderflow import open_engine\n"
        "from orderflow.projections import admin\n"
        "engine = open_engine(sys.argv[1])\n"
        "def cpu():\n"
        "    usage = resource.getrusage(resource.RUSAGE_SELF)\n"
        "    return usage.ru_utime + usage.ru_stime\n"
        "c, t = cpu(), time.perf_counter(); admin.rebuild(engine)\n"
        "seconds, cpu_s = time.perf_counter() - t, cpu() - c\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps({'seconds': seconds, 'cpu_s': cpu_s, 'peak_mb': peak,"
        " 'events': engine.position()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    result["events_per_s"] = result["events"] / result["seconds"]
    return result


def measure_export(url: str, events: int) -> dict[str, float]:
    """`orderflow events --json` to /dev/null, timed from outside (start-up included)."""
    script = Path(sys.executable).parent / "orderflow"
    result = in_child([str(script), "--database-url", url, "events", "--json"])
    result["events"] = events
    result["events_per_s"] = events / result["seconds"]
    return result


def measure_raw_read(url: str, events: int) -> dict[str, float]:
    """Baseline: the same rows read with plain psycopg in pages, nothing decoded."""
    import psycopg

    started = time.perf_counter()
    last, seen = 0, 0
    with psycopg.connect(url) as conn:
        while True:
            rows = conn.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state FROM"
                " orderflow_events"
                " WHERE notification_id > %s ORDER BY notification_id LIMIT 2000",
                (last,),
            ).fetchall()
            if not rows:
                break
            seen += len(rows)
            last = rows[-1][0]
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "events": seen, "events_per_s": seen / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="an existing, empty PostgreSQL database to fill (kept)")
    parser.add_argument("--checkpoints", default="250000,1000000", help="log sizes to measure at")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--only", default="rebuild,export,raw_read", help="what to measure (comma-separated)"
    )
    args = parser.parse_args()
    chosen = set(args.only.split(","))
    sys.path.insert(0, str(ROOT))
    from orderflow.adapters.bench.stores import fresh_postgres

    from orderflow import open_engine

    checkpoints = [int(c) for c in args.checkpoints.split(",")]
    results: list[dict[str, Any]] = []
    with nullcontext(args.url) if args.url else fresh_postgres("replay") as url:
        engine = open_engine(url)
        for target in checkpoints:
            started = time.perf_counter()
            events = generate(engine, target)
            generated = time.perf_counter() - started
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(
                f"log at {events:,} events (generated in {generated:.0f} s); load {load}",
                flush=True,
            )
            measures: dict[str, Callable[[], dict[str, float]]] = {
                "raw_read": partial(measure_raw_read, url, events),
                "rebuild": partial(measure_rebuild, url),
                "export": partial(measure_export, url, events),
            }
            measured = {name: measure() for name, measure in measures.items() if name in chosen}
            results.append({"events": events, **measured})
            for name, r in measured.items():
                peak = f", peak {r['peak_mb']:.0f} MB" if "peak_mb" in r else ""
                cpu = f", {r['cpu_s']:.1f} s CPU" if "cpu_s" in r else ""
                print(
                    f"  {name:8s} {r['events_per_s']:>9,.0f} events/s"
                    f" ({r['seconds']:.1f} s{cpu}{peak})",
                    flush=True,
                )
        engine.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("COLUMNS", "120")
    main()
