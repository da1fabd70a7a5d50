"""CLI: the read models as a seller reads them: stock, the order board, shipments, invoices, sales.

Each command first applies whatever is new in the log to the view it reads (safe next to a
running `orderflow projections run`), then prints a table or `--json`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import typer
from orderflow.adapters.cli.catalogue import JsonFlag
from orderflow.adapters.cli.context import engine
from orderflow.adapters.cli.output import plain, print_json, print_table, reports_errors
from orderflow.projections import ReadModels, audit, catch_up

from orderflow.errors import InvalidInputError

views_app = typer.Typer(
    help="Read models: stock, order board, shipments, invoices, sales.", no_args_is_help=True
)


def fresh(ctx: typer.Context, *names: str) -> ReadModels:
    """The named views, caught up with the log."""
    return catch_up(engine(ctx), names)


def print_data(value: Any) -> None:
    """JSON of query results (dataclasses, Decimals, and times as ISO strings)."""
    print_json(_times(plain(value)))


def _times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_times(v) for v in value]
    return value.isoformat() if isinstance(value, datetime) else value


def show(title: str, columns: list[str], rows: list[Any], cells: Any, as_json: bool) -> None:
    if as_json:
        print_data(rows)
    else:
        print_table(title, columns, [cells(row) for row in rows])


@views_app.command("stock")
@reports_errors
def stock(
    ctx: typer.Context,
    sku: Annotated[str | None, typer.Option(help="Only this SKU")] = None,
    warehouse: Annotated[str | None, typer.Option(help="Only this warehouse")] = None,
    low: Annotated[
        bool, typer.Option("--low", help="Only SKUs at or below their reorder level")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Stock per warehouse per SKU: on hand, reserved, available, incoming, reorder level."""
    view = fresh(ctx, "stock").stock
    rows = view.low_stock(warehouse) if low else view.levels(sku, warehouse)
    show(
        "Low stock" if low else "Stock",
        ["sku", "warehouse", "on hand", "reserved", "available", "incoming", "reorder at"],
        rows,
        lambda r: (
            r.sku,
            r.warehouse,
            r.on_hand,
            r.reserved,
            r.available,
            r.incoming,
            r.reorder_level,
        ),
        as_json,
    )


@views_app.command("board")
@reports_errors
def board(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="new, processing, completed or cancelled")
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="web, shopee, lazada, tiktok, phone, facebook, other")
    ] = None,
    day: Annotated[
        str | None, typer.Option(help="Placed on this day (YYYY-MM-DD, Vietnam time)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The order board, newest first, by status, channel or day."""
    if day:
        audit.parse_moment(day, "day")
    rows = fresh(ctx, "orders").orders.board(status, channel, day, limit=limit)
    _orders(f"Orders{' ' + status if status else ''}", rows, as_json)


@views_app.command("search")
@reports_errors
def search(ctx: typer.Context, text: str, as_json: JsonFlag = False) -> None:
    """Find orders by external order id, buyer phone or tracking number."""
    _orders(f"Orders matching {text}", fresh(ctx, "orders").orders.search(text), as_json)


def _orders(title: str, rows: list[Any], as_json: bool) -> None:
    show(
        title,
        ["order", "placed", "status", "fulfilment", "buyer", "phone", "total", "paid", "tracking"],
        rows,
        lambda r: (
            r.reference,
            r.placed_at.strftime("%Y-%m-%d %H:%M"),
            r.status,
            r.fulfilment,
            r.buyer_name,
            r.buyer_phone,
            r.total,
            r.paid,
            r.tracking_number,
        ),
        as_json,
    )


@views_app.command("timeline")
@reports_errors
def timeline(ctx: typer.Context, order: str, as_json: JsonFlag = False) -> None:
    """Everything that happened to an order (channel/external-id or id), in words."""
    e = engine(ctx)
    entries = catch_up(e, ["timeline"]).timeline.of(audit.parse_aggregate(e, order))
    show(
        f"Timeline of {order}",
        ["time", "what"],
        entries,
        lambda t: (t.at.strftime("%Y-%m-%d %H:%M:%S"), t.text),
        as_json,
    )


@views_app.command("shipments")
@reports_errors
def shipments(
    ctx: typer.Context,
    carrier: Annotated[str | None, typer.Option(help="ghn or viettelpost")] = None,
    status: Annotated[str | None, typer.Option(help="e.g. in_transit, delivered")] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Failed deliveries waiting for a decision")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Shipments by carrier and status, or the failed deliveries."""
    view = fresh(ctx, "shipments").shipments
    rows = view.failed_deliveries() if failed else view.shipments(carrier, status)
    show(
        "Failed deliveries" if failed else "Shipments",
        ["order", "carrier", "tracking", "status", "COD", "failed", "last failure"],
        rows,
        lambda s: (
            s.order_reference,
            s.carrier,
            s.tracking_number,
            s.status,
            s.cod_amount,
            s.failed_attempts,
            s.last_failure,
        ),
        as_json,
    )


@views_app.command("cod")
@reports_errors
def cod(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Cash on delivery per carrier: collected, remitted, still owed."""
    rows = fresh(ctx, "shipments").shipments.cod_by_carrier()
    if as_json:
        return print_data([{**vars(r), "owed": r.owed} for r in rows])
    print_table(
        "COD per carrier",
        ["carrier", "shipments", "collected", "remitted", "owed"],
        [(r.carrier, r.shipments, r.collected, r.remitted, r.owed) for r in rows],
    )


@views_app.command("backlog")
@reports_errors
def backlog(
    ctx: typer.Context,
    supplier: Annotated[str | None, typer.Option(help="Only this supplier")] = None,
    sku: Annotated[str | None, typer.Option(help="Only this SKU")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Purchase-order lines still expected from suppliers."""
    rows = fresh(ctx, "purchasing").purchasing.backlog(supplier, sku=sku)
    show(
        "Purchase-order backlog",
        [
            "purchase order",
            "supplier",
            "warehouse",
            "status",
            "sku",
            "ordered",
            "received",
            "expected",
        ],
        rows,
        lambda r: (
            r.number,
            r.supplier,
            r.warehouse,
            r.status,
            r.sku,
            r.ordered,
            r.received,
            r.expected,
        ),
        as_json,
    )


@views_app.command("invoices")
@reports_errors
def invoices(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="A month, YYYY-MM (default: this month)")] = "",
    as_json: JsonFlag = False,
) -> None:
    """The invoice register of a month, with the totals per VAT rate."""
    month = period or date.today().strftime("%Y-%m")
    audit.parse_moment(f"{month}-01", "period")
    view = fresh(ctx, "invoices").invoices
    rows, totals = view.register(month), view.vat_totals(month)
    if as_json:
        return print_data(
            {
                "period": month,
                "invoices": rows,
                "vat": [{**vars(t), "gross": t.gross} for t in totals],
            }
        )
    print_table(
        f"Invoices {month}",
        ["number", "issued", "order", "buyer", "status", "total", "VAT", "replaces", "replaced by"],
        [
            (
                f"{r.series}-{r.number}",
                r.issued_at.strftime("%Y-%m-%d"),
                r.order_reference,
                r.buyer,
                r.status,
                r.total,
                r.vat,
                r.replaces,
                r.replaced_by,
            )
            for r in rows
        ],
    )
    print_table(
        f"VAT {month}",
        ["rate", "invoices", "net", "VAT", "gross"],
        [(t.vat_rate, t.invoices, t.net, t.vat, t.gross) for t in totals],
    )


@views_app.command("sales")
@reports_errors
def sales(
    ctx: typer.Context,
    by: Annotated[
        list[str] | None, typer.Option(help="Group by day, sku and / or channel (repeatable)")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this day (YYYY-MM-DD)")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this day, included")] = None,
    sku: Annotated[str | None, typer.Option(help="Only this SKU")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Sales and margin per SKU, per day and per channel."""
    for value, name in ((since, "since"), (until, "until")):
        if value:
            audit.parse_moment(value, name)
    groups = by or ["day", "sku", "channel"]
    unknown = [g for g in groups if g not in ("day", "sku", "channel")]
    if unknown:
        raise InvalidInputError("by", f"{unknown[0]!r} is not one of day, sku, channel")
    rows = fresh(ctx, "sales").sales.sales(groups, since, until, sku, channel)
    if as_json:
        return print_data([{**vars(r), "net": r.net, "margin": r.margin} for r in rows])
    print_table(
        "Sales",
        [*groups, "units", "revenue", "VAT", "cost", "margin"],
        [
            (*(getattr(r, g) for g in groups), r.quantity, r.revenue, r.vat, r.cost, r.margin)
            for r in rows
        ],
    )
