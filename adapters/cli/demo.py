"""CLI: `orderflow demo` runs the seller's procedure on a fresh embedded store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from orderflow.adapters.cli.output import console, print_table, reports_errors
from orderflow.adapters.demo import set_up_catalogue
from orderflow.adapters.demo_orders import ORDER_COLUMNS, order_rows, run_orders, summary
from orderflow.adapters.settings import load_settings
from orderflow.errors import InvalidStateError
from orderflow.store import backend_of, sqlite_path

DEMO_URL = "sqlite:///orderflow-demo.db"


@reports_errors
def demo(
    database_url: Annotated[
        str, typer.Option(help="Store for the demo; a SQLite file is recreated, any other store must be empty")
    ] = DEMO_URL,
    orders: Annotated[int, typer.Option("--orders", min=0, help="Also place this many generated orders")] = 0,
) -> None:
    """Run the demo: warehouses, products, suppliers and stock on a fresh store, then a summary."""
    started = time.perf_counter()
    if backend_of(database_url) == "sqlite":
        _remove_sqlite(database_url)
    engine = load_settings(database_url=database_url).open_engine()
    try:
        if engine.position():
            raise InvalidStateError("database_url", f"{database_url} already holds events; the demo needs an empty store")
        console.print(f"[bold]orderflow demo[/] on {database_url}\n")
        report = set_up_catalogue(engine, lambda line: console.print(f"  - {line}", highlight=False))
        orders_report = run_orders(engine, lambda line: console.print(f"  - {line}", highlight=False), orders)
        console.print()
        print_table("Orders", ORDER_COLUMNS, order_rows(engine, orders_report))
        rows = [
            (level.sku, level.warehouse, level.on_hand, level.reserved, level.available)
            for w in engine.warehouses() for level in engine.stock_in_warehouse(w.code)
        ]
        print_table("Stock per warehouse", ["sku", "warehouse", "on hand", "reserved", "available"], rows)
        console.print(
            f"\n{report.warehouses} warehouses, {report.suppliers} suppliers, {report.products} products, "
            f"{report.skus} SKUs, {report.units_on_hand} units on hand; {engine.position()} events stored "
            f"in {time.perf_counter() - started:.2f}s\n{summary(orders_report)}",
            highlight=False,
        )
    finally:
        engine.close()


def _remove_sqlite(url: str) -> None:
    path = Path(sqlite_path(url))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
