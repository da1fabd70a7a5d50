"""CLI: orders from every channel — place, show, list, edit, cancel, pay, refund."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from orderflow.adapters.cli.catalogue import JsonFlag, pairs
from orderflow.adapters.cli.context import engine
from orderflow.adapters.cli.output import print_fields, print_json, print_table, reports_errors, vnd

from orderflow.errors import InvalidInputError
from orderflow.order_views import OrderInfo

order_app = typer.Typer(
    help="Orders from every channel: place, show, list, edit, cancel, pay, refund.",
    no_args_is_help=True,
)

LineOption = Annotated[
    list[str] | None,
    typer.Option(
        "--line", help="SKU=QTY or SKU=QTY@UNIT_PRICE (VAT-inclusive VND); repeat per line"
    ),
]
ORDER_FILE_KEYS = {
    "channel",
    "external_id",
    "buyer",
    "address",
    "lines",
    "shipping_fee",
    "payment_method",
    "note",
    "shipping_vat_rate",
    "paid",
    "payment_reference",
    "exchange_of",
}


def parse_lines(items: list[str] | None, option: str = "--line") -> list[dict[str, object]]:
    """'SKU=QTY[@PRICE]' options as order lines."""
    lines: list[dict[str, object]] = []
    for sku, value in pairs(items, option).items():
        quantity, _, price = value.partition("@")
        line: dict[str, object] = {"sku": sku, "quantity": _whole(quantity, f"{option} {sku}")}
        if price.strip():
            line["unit_price"] = price.strip()
        lines.append(line)
    return lines


def _whole(text: str, field: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInputError(field, f"{text!r} is not a whole number") from None


def _order_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInputError("--from-file", f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            "--from-file", f"{path} is not JSON: {error.msg} at line {error.lineno}"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInputError("--from-file", "expected a JSON object describing one order")
    unknown = sorted(set(data) - ORDER_FILE_KEYS)
    if unknown:
        raise InvalidInputError("--from-file", f"unknown field(s) {', '.join(unknown)}")
    return data


@order_app.command("place")
@reports_errors
def place(
    ctx: typer.Context,
    channel: Annotated[
        str | None, typer.Argument(help="web, shopee, lazada, tiktok, phone, facebook or other")
    ] = None,
    external_id: Annotated[str | None, typer.Argument(help="The channel's order number")] = None,
    lines: LineOption = None,
    from_file: Annotated[
        Path | None, typer.Option("--from-file", help="A JSON file with the whole order")
    ] = None,
    name: Annotated[str, typer.Option(help="Buyer's name")] = "",
    phone: Annotated[str, typer.Option(help="Buyer's phone")] = "",
    email: Annotated[str, typer.Option(help="Buyer's e-mail")] = "",
    street: Annotated[str, typer.Option(help="House number and street")] = "",
    ward: Annotated[str, typer.Option(help="Ward (phuong / xa)")] = "",
    district: Annotated[
        str, typer.Option(help="District; leave out for the two-level address")
    ] = "",
    province: Annotated[str, typer.Option(help="Province or city")] = "",
    shipping_fee: Annotated[
        str, typer.Option(help="Shipping fee charged to the buyer (VND)")
    ] = "0",
    payment: Annotated[str, typer.Option(help="cod or prepaid")] = "cod",
    paid: Annotated[str | None, typer.Option(help="Amount already paid (VND)")] = None,
    payment_reference: Annotated[str, typer.Option(help="Payment reference")] = "",
    note: Annotated[str, typer.Option(help="Note from the buyer")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Place an order; stock is reserved at once (placing it again changes nothing)."""
    order = _order_file(from_file) if from_file else {}
    order.setdefault("channel", channel)
    order.setdefault("external_id", external_id)
    if not from_file:
        order.update(
            buyer={"name": name, "phone": phone, "email": email},
            address={"street": street, "ward": ward, "district": district, "province": province},
            lines=parse_lines(lines),
            shipping_fee=shipping_fee,
            payment_method=payment,
            note=note,
            paid=paid,
            payment_reference=payment_reference,
        )
    if not order["channel"] or not order["external_id"]:
        raise InvalidInputError("channel", "give CHANNEL and EXTERNAL_ID (or both in --from-file)")
    e = engine(ctx)
    info = e.order(e.place_order(**order))
    if as_json:
        return print_json(info)
    waiting = sum(line.backordered for line in info.lines)
    typer.echo(
        f"order {info.reference} {info.status} / {info.fulfilment}: total {vnd(info.total)} VND"
        + (f", {waiting} units backordered" if waiting else "")
    )


@order_app.command("show")
@reports_errors
def show(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="Order id or CHANNEL/EXTERNAL_ID")],
    as_json: JsonFlag = False,
) -> None:
    """Show an order: buyer, address, lines with their stock, VAT, money history."""
    info = engine(ctx).order(order)
    if as_json:
        return print_json(info)
    print_order(info)


def print_order(info: OrderInfo) -> None:
    """An order as three tables: the order, its lines, its money."""
    address = ", ".join(v for k, v in info.address.items() if v and not k.endswith("_code"))
    print_fields(
        f"Order {info.reference}",
        [
            ("id", info.id),
            ("placed", info.placed_at),
            ("status", info.status),
            ("fulfilment", info.fulfilment),
            ("buyer", f"{info.buyer['name']} {info.buyer['phone']} {info.buyer['email']}".strip()),
            ("address", address),
            ("payment", info.payment_method),
            ("note", info.note),
            ("goods", info.goods_total),
            ("shipping fee", info.shipping_fee),
            ("total", info.total),
            ("paid", info.paid),
            ("refunded", info.refunded),
            ("outstanding", info.outstanding),
            *([("cancelled because", info.cancel_reason)] if info.cancel_reason else []),
        ],
    )
    rows = [
        (
            line.sku,
            line.name,
            line.quantity,
            line.unit_price,
            f"{line.vat_rate}%",
            line.amount,
            ", ".join(f"{w} {q}" for w, q in line.reserved.items()) or "-",
            line.backordered,
        )
        for line in info.lines
    ]
    print_table(
        "Lines",
        ["sku", "name", "qty", "unit price", "VAT", "amount", "reserved", "backordered"],
        rows,
    )
    print_table("VAT", ["rate", "net", "VAT"], [(f"{v.rate}%", v.net, v.vat) for v in info.vat])
    if info.transactions:
        money = [(t.at, t.kind, t.amount, t.reference) for t in info.transactions]
        print_table("Transactions", ["at", "kind", "amount", "reference"], money)


@order_app.command("list")
@reports_errors
def list_orders(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="new, processing, completed or cancelled")
    ] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List orders, oldest first."""
    found = engine(ctx).orders(status=status, channel=channel)
    if as_json:
        return print_json(found)
    rows = [
        (
            o.reference,
            o.placed_at[:19],
            o.status,
            o.fulfilment,
            o.buyer,
            o.payment_method,
            o.total,
            o.paid,
        )
        for o in found
    ]
    print_table(
        f"Orders ({len(found)})",
        ["order", "placed", "status", "fulfilment", "buyer", "payment", "total", "paid"],
        rows,
    )


@order_app.command("edit")
@reports_errors
def edit(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="Order id or CHANNEL/EXTERNAL_ID")],
    quantities: Annotated[
        list[str] | None,
        typer.Option("--set", help="SKU=QTY: add a SKU or change its quantity (0 removes it)"),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Buyer's name")] = None,
    phone: Annotated[str | None, typer.Option(help="Buyer's phone")] = None,
    email: Annotated[str | None, typer.Option(help="Buyer's e-mail")] = None,
    street: Annotated[str | None, typer.Option()] = None,
    ward: Annotated[str | None, typer.Option()] = None,
    district: Annotated[str | None, typer.Option()] = None,
    province: Annotated[str | None, typer.Option()] = None,
    shipping_fee: Annotated[str | None, typer.Option(help="New shipping fee (VND)")] = None,
) -> None:
    """Edit an order until it is packed: lines, buyer, address, shipping fee (all at once)."""
    buyer = {
        k: v for k, v in {"name": name, "phone": phone, "email": email}.items() if v is not None
    }
    address = {
        k: v
        for k, v in {
            "street": street,
            "ward": ward,
            "district": district,
            "province": province,
        }.items()
        if v is not None
    }
    counts = {sku: _whole(qty, f"--set {sku}") for sku, qty in pairs(quantities, "--set").items()}
    if not (buyer or address or counts or shipping_fee is not None):
        raise InvalidInputError("edit", "nothing to change; see --help")
    e = engine(ctx)
    e.edit_order(order, quantities=counts, buyer=buyer, address=address, shipping_fee=shipping_fee)
    info = e.order(order)
    typer.echo(f"order {info.reference} changed: {info.fulfilment}, total {vnd(info.total)} VND")


@order_app.command("cancel")
@reports_errors
def cancel(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="Order id or CHANNEL/EXTERNAL_ID")],
    reason: Annotated[str, typer.Option(help="Why the order is cancelled")],
) -> None:
    """Cancel an order not yet handed to a carrier; its stock is released and a packed order's
    parcel is cancelled with it (cancel a booked parcel at the carrier yourself)."""
    e = engine(ctx)
    e.cancel_order(order, reason, tell_carrier=False)
    info = e.order(order)
    parcel = " and its parcel" if info.shipment_ids else ""
    typer.echo(f"order {info.reference}{parcel} cancelled; its reservations were released")


@order_app.command("pay")
@reports_errors
def pay(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="Order id or CHANNEL/EXTERNAL_ID")],
    amount: Annotated[str, typer.Argument(help="Amount in VND")],
    kind: Annotated[str, typer.Option(help="payment, cod_collected or cod_remitted")] = "payment",
    reference: Annotated[str, typer.Option(help="Bank / gateway / carrier reference")] = "",
    at: Annotated[str | None, typer.Option(help="When (ISO date-time; default now)")] = None,
) -> None:
    """Record money in: a payment, COD collected, or COD remitted by the carrier."""
    e = engine(ctx)
    e.record_payment(order, amount, kind, reference, at)
    info = e.order(order)
    typer.echo(
        f"order {info.reference}: paid {vnd(info.paid)} of {vnd(info.total)} VND, "
        f"status {info.status}"
    )


@order_app.command("refund")
@reports_errors
def refund(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="Order id or CHANNEL/EXTERNAL_ID")],
    amount: Annotated[str, typer.Argument(help="Amount in VND")],
    reference: Annotated[str, typer.Option(help="Refund reference")] = "",
) -> None:
    """Record money paid back to the buyer (never more than was paid)."""
    e = engine(ctx)
    e.record_refund(order, amount, reference)
    info = e.order(order)
    typer.echo(
        f"order {info.reference}: refunded {vnd(info.refunded)} of {vnd(info.paid)} VND paid"
    )


@order_app.command("prefer-warehouse")
@reports_errors
def prefer_warehouse(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="The sales channel")],
    warehouse: Annotated[str, typer.Argument(help="Warehouse code, or 'none'")],
) -> None:
    """Allocate a channel's orders from this warehouse first."""
    engine(ctx).set_preferred_warehouse(channel, None if warehouse.lower() == "none" else warehouse)
    typer.echo(f"{channel.lower()} orders now prefer {warehouse.upper()}")


@order_app.command("allocate-waiting")
@reports_errors
def allocate_waiting(
    ctx: typer.Context,
    sku: Annotated[
        str | None, typer.Argument(help="Only this SKU (default: every SKU with waiting orders)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Reserve available stock for backordered orders, first come first served."""
    fills = engine(ctx).allocate_waiting(sku)
    if as_json:
        return print_json(fills)
    rows = [(f.reference, f.sku, f.warehouse, f.quantity, f.now) for f in fills]
    print_table(
        f"Reserved for waiting orders ({len(fills)})",
        ["order", "sku", "warehouse", "qty", "now"],
        rows,
    )
