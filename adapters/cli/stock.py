"""CLI: stock per SKU and warehouse — receive, count, write off, transfer, show."""

from __future__ import annotations

from typing import Annotated

import typer
from orderflow.adapters.cli.catalogue import JsonFlag, pairs
from orderflow.adapters.cli.context import engine
from orderflow.adapters.cli.output import print_json, print_table, reports_errors

from orderflow.errors import InvalidInputError
from orderflow.inventory import StockLevel

stock_app = typer.Typer(
    help="Stock per SKU and warehouse: receive, count, write off, transfer, show.",
    no_args_is_help=True,
)

Qty = Annotated[int, typer.Argument(help="Number of units (more than 0)")]
# so that `stock receive SKU HN -5` reaches the engine's "quantity: must be more than 0"
# instead of failing as an unknown option "-5"
NEGATIVE_NUMBERS_ARE_ARGUMENTS = {"ignore_unknown_options": True}


def print_levels(title: str, levels: list[StockLevel]) -> None:
    rows = [(s.sku, s.warehouse, s.on_hand, s.reserved, s.available) for s in levels]
    print_table(title, ["sku", "warehouse", "on hand", "reserved", "available"], rows)


@stock_app.command("receive", context_settings=NEGATIVE_NUMBERS_ARE_ARGUMENTS)
@reports_errors
def receive(
    ctx: typer.Context,
    sku: str,
    warehouse: str,
    quantity: Qty,
    reason: Annotated[
        str, typer.Option(help="initial, purchase_receipt, return or correction")
    ] = "purchase_receipt",
    reference: Annotated[str, typer.Option(help="Receipt number or note")] = "",
) -> None:
    """Receive goods into a warehouse; orders waiting for the SKU get them first."""
    e = engine(ctx)
    before = e.stock_level(sku, warehouse).reserved
    e.receive_stock(sku, warehouse, quantity, reason, reference)
    level = e.stock_level(sku, warehouse)
    into = f"received {quantity} {level.sku} into {level.warehouse}"
    waiting = level.reserved - before
    served = f", {waiting} reserved for waiting orders" if waiting > 0 else ""
    typer.echo(f"{into}: on hand {level.on_hand}, available {level.available}{served}")


@stock_app.command("count")
@reports_errors
def count(
    ctx: typer.Context,
    warehouse: str,
    counts: Annotated[list[str], typer.Argument(help="SKU=COUNTED for each SKU counted")],
    counted_by: Annotated[str, typer.Option("--by", help="Who counted")] = "",
    reference: Annotated[str, typer.Option(help="Count sheet number")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Record a periodic stock count; differences become adjustments and a count report."""
    counted = {}
    for sku, value in pairs(counts, "counts").items():
        try:
            counted[sku] = int(value)
        except ValueError:
            raise InvalidInputError(f"counts.{sku}", f"{value!r} is not a whole number") from None
    report = engine(ctx).record_stock_count(warehouse, counted, counted_by, reference)
    if as_json:
        return print_json({**vars(report), "total_difference": report.total_difference})
    rows = [
        (line.sku, line.expected, line.counted, f"{line.difference:+d}") for line in report.lines
    ]
    print_table(
        f"Count report {report.warehouse} {report.reference}".strip(),
        ["sku", "system", "counted", "difference"],
        rows,
    )
    typer.echo(f"total difference: {report.total_difference:+d}")


@stock_app.command("show")
@reports_errors
def show(
    ctx: typer.Context,
    sku: str,
    warehouse: Annotated[str | None, typer.Option(help="Only this warehouse")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a SKU's stock in every warehouse (or one)."""
    e = engine(ctx)
    levels = [e.stock_level(sku, warehouse)] if warehouse else e.stock_of_sku(sku)
    if as_json:
        return print_json(levels)
    print_levels(f"Stock of {sku.upper()}", levels)


@stock_app.command("warehouse")
@reports_errors
def in_warehouse(ctx: typer.Context, code: str, as_json: JsonFlag = False) -> None:
    """Show every SKU's stock in one warehouse."""
    levels = engine(ctx).stock_in_warehouse(code)
    if as_json:
        return print_json(levels)
    print_levels(f"Stock in {code.upper()}", levels)


@stock_app.command("write-off", context_settings=NEGATIVE_NUMBERS_ARE_ARGUMENTS)
@reports_errors
def write_off(
    ctx: typer.Context,
    sku: str,
    warehouse: str,
    quantity: Qty,
    reason: Annotated[str, typer.Option(help="Why: damaged, expired, lost ...")],
    reference: str = "",
) -> None:
    """Write off damaged or lost units."""
    engine(ctx).write_off_stock(sku, warehouse, quantity, reason, reference)
    typer.echo(f"wrote off {quantity} {sku.upper()} in {warehouse.upper()}")


@stock_app.command("transfer", context_settings=NEGATIVE_NUMBERS_ARE_ARGUMENTS)
@reports_errors
def transfer(
    ctx: typer.Context,
    sku: str,
    from_warehouse: str,
    to_warehouse: str,
    quantity: Qty,
    reference: str = "",
) -> None:
    """Move available units from one warehouse to another."""
    engine(ctx).transfer_stock(sku, from_warehouse, to_warehouse, quantity, reference)
    typer.echo(
        f"moved {quantity} {sku.upper()} from {from_warehouse.upper()} to {to_warehouse.upper()}"
    )


@stock_app.command("reserve", context_settings=NEGATIVE_NUMBERS_ARE_ARGUMENTS)
@reports_errors
def reserve(ctx: typer.Context, sku: str, warehouse: str, order: str, quantity: Qty) -> None:
    """Hold units for an order by hand."""
    engine(ctx).reserve_stock(sku, warehouse, order, quantity)
    typer.echo(f"reserved {quantity} {sku.upper()} in {warehouse.upper()} for {order}")


@stock_app.command("release", context_settings=NEGATIVE_NUMBERS_ARE_ARGUMENTS)
@reports_errors
def release(
    ctx: typer.Context,
    sku: str,
    warehouse: str,
    order: str,
    quantity: Annotated[int | None, typer.Argument(help="Units to release (default: all)")] = None,
) -> None:
    """Release units held for an order."""
    engine(ctx).release_stock(sku, warehouse, order, quantity)
    typer.echo(f"released {quantity or 'all'} {sku.upper()} in {warehouse.upper()} for {order}")
