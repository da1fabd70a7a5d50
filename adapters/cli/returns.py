"""CLI: returns — receive goods back, refund, correct the invoice, exchange."""

from __future__ import annotations

from typing import Annotated

import typer
from orderflow.adapters.cli.catalogue import JsonFlag
from orderflow.adapters.cli.context import engine
from orderflow.adapters.cli.orders import parse_lines
from orderflow.adapters.cli.output import print_fields, print_json, print_table, reports_errors

from orderflow.errors import InvalidInputError
from orderflow.returning import ReturnInfo

return_app = typer.Typer(
    help="Returns: receive goods (restock or write off), refund, correct the invoice, exchange.",
    no_args_is_help=True,
)

ReturnArg = Annotated[str, typer.Argument(help="Return id")]


def return_lines(items: list[str]) -> list[dict[str, object]]:
    """'SKU=QTY' or 'SKU=QTY:damaged' as return lines."""
    lines = []
    for item in items:
        sku, sep, value = item.partition("=")
        quantity, _, condition = value.partition(":")
        if not sep or not quantity.strip().isdigit():
            raise InvalidInputError("lines", f"{item!r} is not SKU=QTY or SKU=QTY:damaged")
        lines.append({"sku": sku.strip(), "quantity": int(quantity),
                      "condition": condition.strip() or "resellable"})  # fmt: skip
    return lines


def print_return(r: ReturnInfo) -> None:
    """A return, its lines and what followed."""
    print_fields(
        f"Return {r.id}",
        [
            ("order", r.order_reference), ("received", r.received_at), ("reason", r.reason),
            ("goods value", r.goods_value), ("refunded", r.refunded),
            ("corrected by invoice", r.invoice_id or "-"),
            ("exchanged for order", r.exchange_order_id or "-"),
            ("exchange credit", r.exchange_credit),
        ],
    )  # fmt: skip
    rows = [(x["sku"], x["name"], x["quantity"], x["condition"], x["warehouse"]) for x in r.lines]
    print_table("Lines", ["sku", "name", "qty", "condition", "back to"], rows)


@return_app.command("receive")
@reports_errors
def receive(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="Order id or CHANNEL/EXTERNAL_ID")],
    lines: Annotated[list[str], typer.Argument(help="SKU=QTY (resellable) or SKU=QTY:damaged")],
    reason: Annotated[str, typer.Option(help="Why the goods came back")] = "",
    refund: Annotated[
        str | None, typer.Option(help="Refund now: an amount in VND, or 'goods' for their value")
    ] = None,
    reference: Annotated[str, typer.Option(help="Refund reference (bank transfer ...)")] = "",
) -> None:
    """Receive returned goods: resellable back to stock, damaged written off."""
    e = engine(ctx)
    return_id = e.receive_return(
        order, return_lines(lines), reason=reason, refund=refund, reference=reference
    )
    info = e.return_info(return_id)
    typer.echo(f"return {return_id} of order {info.order_reference}: refunded {info.refunded} VND")


@return_app.command("refund")
@reports_errors
def refund(
    ctx: typer.Context,
    ret: ReturnArg,
    amount: Annotated[
        str | None, typer.Option(help="VND (default: goods not yet refunded)")
    ] = None,
    reference: Annotated[str, typer.Option(help="Refund reference")] = "",
) -> None:
    """Record money paid back for a return (never more than was paid)."""
    e = engine(ctx)
    e.refund_return(ret, amount, reference)
    typer.echo(f"return {ret}: refunded {e.return_info(ret).refunded} VND")


@return_app.command("fix-invoice")
@reports_errors
def fix_invoice(ctx: typer.Context, ret: ReturnArg) -> None:
    """Request the replacement (or adjustment) invoice that takes the returned goods off."""
    invoice_id = engine(ctx).replace_invoice_after_return(ret, issue=False)
    typer.echo(f"invoice {invoice_id} requested" if invoice_id else "the order has no invoice")


@return_app.command("exchange")
@reports_errors
def exchange(
    ctx: typer.Context,
    ret: ReturnArg,
    lines: Annotated[
        list[str], typer.Argument(help="SKU=QTY or SKU=QTY@UNIT_PRICE wanted instead")
    ],
    shipping_fee: Annotated[str, typer.Option(help="Shipping fee of the new order (VND)")] = "0",
) -> None:
    """Exchange returned goods: a new linked order, paid by the returned goods' value."""
    e = engine(ctx)
    new_id = e.exchange_return(ret, parse_lines(lines, "lines"), shipping_fee=shipping_fee)
    info = e.order(new_id)
    typer.echo(f"exchange order {info.reference}: total {info.total}, paid {info.paid} VND")


@return_app.command("show")
@reports_errors
def show(ctx: typer.Context, ret: ReturnArg, as_json: JsonFlag = False) -> None:
    """Show a return and what followed it."""
    info = engine(ctx).return_info(ret)
    if as_json:
        return print_json(info)
    print_return(info)


@return_app.command("list")
@reports_errors
def list_returns(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="Order id or CHANNEL/EXTERNAL_ID")],
    as_json: JsonFlag = False,
) -> None:
    """List an order's returns."""
    found = engine(ctx).returns_of_order(order)
    if as_json:
        return print_json(found)
    rows = [
        (r.id, r.received_at, r.goods_value, r.refunded, r.exchange_order_id or "-") for r in found
    ]
    print_table("Returns", ["id", "received", "value", "refunded", "exchange"], rows)
