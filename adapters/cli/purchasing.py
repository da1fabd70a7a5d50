"""CLI: purchasing — shortages, proposals, purchase orders, goods receipts."""

from __future__ import annotations

from typing import Annotated

import typer
from orderflow.adapters.cli.catalogue import JsonFlag, pairs
from orderflow.adapters.cli.context import engine
from orderflow.adapters.cli.output import print_fields, print_json, print_table, reports_errors

from orderflow.errors import InvalidInputError
from orderflow.order_views import PurchaseOrderInfo

purchase_app = typer.Typer(
    help="Purchasing: shortages, proposed purchase orders, confirm, receive, cancel.",
    no_args_is_help=True,
)

PoArgument = Annotated[str, typer.Argument(help="Purchase order id or number (PO-XXXXXXXX)")]


def parse_po_lines(items: list[str] | None, option: str = "--line") -> list[dict[str, object]]:
    """'SKU=QTY[@UNIT_COST]' options as purchase order lines."""
    lines: list[dict[str, object]] = []
    for sku, value in pairs(items, option).items():
        quantity, _, cost = value.partition("@")
        lines.append(
            {
                "sku": sku,
                "quantity": quantity.strip(),
                **({"unit_cost": cost.strip()} if cost.strip() else {}),
            }
        )
    return lines


def print_purchase_order(po: PurchaseOrderInfo) -> None:
    print_fields(
        f"Purchase order {po.number}",
        [
            ("id", po.id),
            ("supplier", po.supplier),
            ("warehouse", po.warehouse),
            ("status", po.status),
            ("total cost", po.total_cost),
            ("note", po.note),
            ("created", po.created_at),
        ],
    )
    rows = [
        (line.sku, line.quantity, line.unit_cost, line.received, line.remaining)
        for line in po.lines
    ]
    print_table("Lines", ["sku", "ordered", "unit cost", "received", "remaining"], rows)
    if po.receipts:
        receipts = [
            (r.number, r.at[:19], ", ".join(f"{s} {q}" for s, q in r.quantities.items()))
            for r in po.receipts
        ]
        print_table("Goods receipts", ["receipt", "at", "quantities"], receipts)


@purchase_app.command("shortages")
@reports_errors
def shortages(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """SKUs that orders wait for: waiting, on order, available, still to buy."""
    found = engine(ctx).shortages()
    if as_json:
        return print_json(found)
    rows = [(s.sku, s.waiting, len(s.orders), s.on_order, s.available, s.to_buy) for s in found]
    print_table("Shortages", ["sku", "waiting", "orders", "on order", "available", "to buy"], rows)


@purchase_app.command("source")
@reports_errors
def source(
    ctx: typer.Context,
    sku: str,
    supplier: str,
    unit_cost: Annotated[
        str | None, typer.Option(help="Unit cost (default: the variant's cost price)")
    ] = None,
    warehouse: Annotated[str | None, typer.Option(help="Receive into this warehouse")] = None,
) -> None:
    """Set the supplier a SKU is bought from in proposals."""
    engine(ctx).set_sourcing(sku, supplier, unit_cost, warehouse)
    typer.echo(f"{sku.upper()} is bought from {supplier.upper()}")


@purchase_app.command("propose")
@reports_errors
def propose(
    ctx: typer.Context,
    warehouse: Annotated[
        str | None, typer.Option(help="Receive into (default: the main warehouse)")
    ] = None,
    supplier: Annotated[
        str | None, typer.Option(help="Supplier for SKUs without a sourcing")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Draft purchase orders, grouped by supplier, for what backordered orders lack."""
    proposal = engine(ctx).propose_purchase_orders(warehouse, supplier)
    if as_json:
        return print_json(proposal)
    for po in proposal.purchase_orders:
        print_purchase_order(po)
    if not proposal.purchase_orders:
        typer.echo("nothing to propose")
    for sku, qty in proposal.unassigned.items():
        typer.echo(
            f"{sku}: {qty} units short but no supplier is set "
            f"(orderflow purchase source {sku} SUPPLIER)"
        )


@purchase_app.command("draft")
@reports_errors
def draft(
    ctx: typer.Context,
    supplier: str,
    warehouse: str,
    lines: Annotated[
        list[str] | None, typer.Option("--line", help="SKU=QTY or SKU=QTY@UNIT_COST")
    ] = None,
    note: str = "",
) -> None:
    """Draft a purchase order by hand."""
    e = engine(ctx)
    po = e.purchase_order(e.draft_purchase_order(supplier, warehouse, parse_po_lines(lines), note))
    typer.echo(f"purchase order {po.number} drafted ({po.id})")


@purchase_app.command("show")
@reports_errors
def show(ctx: typer.Context, purchase_order: PoArgument, as_json: JsonFlag = False) -> None:
    """Show a purchase order with its receipts."""
    po = engine(ctx).purchase_order(purchase_order)
    if as_json:
        return print_json(po)
    print_purchase_order(po)


@purchase_app.command("list")
@reports_errors
def list_pos(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(help="draft, confirmed, partly_received, received, cancelled, closed"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List purchase orders, oldest first."""
    found = engine(ctx).purchase_orders(status)
    if as_json:
        return print_json(found)
    rows = [
        (p.number, p.supplier, p.warehouse, p.status, p.total_cost, len(p.receipts)) for p in found
    ]
    print_table(
        "Purchase orders",
        ["number", "supplier", "warehouse", "status", "total cost", "receipts"],
        rows,
    )


@purchase_app.command("confirm")
@reports_errors
def confirm(ctx: typer.Context, purchase_order: PoArgument) -> None:
    """Confirm a draft purchase order."""
    e = engine(ctx)
    e.confirm_purchase_order(purchase_order)
    typer.echo(f"purchase order {e.purchase_order(purchase_order).number} confirmed")


@purchase_app.command("receive")
@reports_errors
def receive(
    ctx: typer.Context,
    purchase_order: PoArgument,
    receipt_number: Annotated[
        str, typer.Argument(help="The goods receipt number (phieu nhap kho)")
    ],
    lines: Annotated[
        list[str] | None,
        typer.Option("--line", help="SKU=QTY received (default: all still expected)"),
    ] = None,
    allow_over_receipt: Annotated[bool, typer.Option(help="Accept more than was ordered")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Record a goods receipt; the units are reserved for waiting orders at once."""
    quantities = {}
    for sku, qty in pairs(lines, "--line").items():
        if not qty.strip().isdigit():
            raise InvalidInputError(f"--line {sku}", f"{qty!r} is not a whole number")
        quantities[sku] = int(qty)
    result = engine(ctx).receive_purchase_order(
        purchase_order, receipt_number, quantities or None, allow_over_receipt
    )
    if as_json:
        return print_json(result)
    if not result.recorded:
        typer.echo(f"receipt {result.receipt_number} was already recorded; nothing changed")
        return
    received = ", ".join(f"{q} {s}" for s, q in result.received.items())
    po = result.purchase_order
    typer.echo(
        f"receipt {result.receipt_number}: {received} into {po.warehouse}; "
        f"{po.number} is {po.status}"
    )
    rows = [(f.reference, f.sku, f.quantity, f.now) for f in result.fills]
    if rows:
        print_table("Reserved for waiting orders", ["order", "sku", "qty", "now"], rows)


@purchase_app.command("cancel")
@reports_errors
def cancel(
    ctx: typer.Context,
    purchase_order: PoArgument,
    reason: Annotated[str, typer.Option(help="Why")],
) -> None:
    """Cancel what was not received yet."""
    e = engine(ctx)
    e.cancel_purchase_order(purchase_order, reason)
    po = e.purchase_order(purchase_order)
    typer.echo(f"purchase order {po.number} is {po.status}")
