"""CLI: VAT e-invoices — request, record the provider's number, replace, adjust, show.

No real e-invoice client exists yet, so the CLI records invoices as requested and records the
number the provider (S-Invoice, MISA portal) gave; it never calls a provider itself.
"""

from __future__ import annotations

from typing import Annotated

import typer
from orderflow.adapters.cli.catalogue import JsonFlag
from orderflow.adapters.cli.context import engine
from orderflow.adapters.cli.output import print_fields, print_json, print_table, reports_errors

from orderflow.errors import InvalidInputError
from orderflow.invoicing import InvoiceInfo

invoice_app = typer.Typer(
    help="VAT e-invoices: request, record the provider's number, replace, adjust, show.",
    no_args_is_help=True,
)

InvoiceArg = Annotated[str, typer.Argument(help="Invoice id")]
Name = Annotated[str | None, typer.Option("--name", help="Buyer's name (a person)")]
Company = Annotated[str | None, typer.Option("--company", help="Buyer's legal company name")]
TaxCode = Annotated[
    str | None, typer.Option("--tax-code", help="Buyer's MST, or a 12-digit personal ID")
]
Address = Annotated[str | None, typer.Option("--address", help="Buyer's (registered) address")]
Email = Annotated[str | None, typer.Option("--email", help="Where the invoice is sent")]
Reason = Annotated[str, typer.Option(help="Why (printed on the invoice, at most 255 characters)")]


def buyer_of(
    name: str | None, company: str | None, tax_code: str | None, address: str | None,
    email: str | None,
) -> dict[str, str] | None:  # fmt: skip
    """The buyer options given, or None to use the order's (or the old invoice's) buyer."""
    given = {"name": name, "company": company, "tax_code": tax_code, "address": address,
             "email": email}  # fmt: skip
    chosen = {k: v for k, v in given.items() if v is not None}
    return chosen or None


def adjustment_line(text: str, increase: bool) -> dict[str, object]:
    """'NAME:QTY:UNIT_PRICE:VAT' (VAT-inclusive price) as an adjustment line."""
    parts = text.split(":")
    if len(parts) != 4:
        option = "--increase" if increase else "--decrease"
        raise InvalidInputError(option, f"{text!r} is not NAME:QTY:UNIT_PRICE:VAT_RATE")
    name, quantity, price, rate = parts
    return {"name": name, "quantity": quantity, "unit_price": price, "vat_rate": rate,
            "increase": increase}  # fmt: skip


def print_invoice(i: InvoiceInfo) -> None:
    """An invoice, its lines and its VAT per rate."""
    print_fields(
        f"Invoice {i.series}-{i.number}" if i.number else f"Invoice {i.id}",
        [
            ("id", i.id), ("order", i.order_reference), ("kind", i.kind), ("purpose", i.purpose),
            *([("adjusts", f"{i.adjusts} ({i.adjustment})")] if i.adjusts else []),
            *([("replaces", i.replaces)] if i.replaces else []),
            *([("replaced by", i.replaced_by)] if i.replaced_by else []),
            ("status", i.status), ("number", i.number), ("series", i.series),
            ("template", i.template_code), ("tax authority code", i.tax_authority_code),
            ("issued", i.issued_at), ("buyer", i.buyer["company"] or i.buyer["name"]),
            ("tax code", i.buyer["tax_code"]), ("address", i.buyer["address"]),
            ("payment", i.payment_method), ("net", i.total_net), ("VAT", i.total_vat),
            ("total", i.total), *([("reason", i.reason)] if i.reason else []),
        ],
    )  # fmt: skip
    rows = [
        (x["sku"], x["name"], x["quantity"], x["unit_price"], f"{x['vat_rate']}%", x["net"],
         x["vat"], x["gross"])
        for x in i.lines
    ]  # fmt: skip
    print_table(
        "Lines", ["sku", "name", "qty", "unit price", "VAT", "net", "VAT amount", "total"], rows
    )
    taxes = [(f"{t['vat_rate']}%", t["net"], t["vat"]) for t in i.taxes]
    print_table("VAT per rate", ["rate", "net", "VAT"], taxes)


@invoice_app.command("request")
@reports_errors
def request(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="Order id or CHANNEL/EXTERNAL_ID")],
    kind: Annotated[str, typer.Option(help="vat (hoá đơn GTGT) or sales (bán hàng)")] = "vat",
    name: Name = None, company: Company = None, tax_code: TaxCode = None,
    address: Address = None, email: Email = None,
) -> None:  # fmt: skip
    """Record an invoice of the order as requested (default buyer: the order's buyer)."""
    e = engine(ctx)
    invoice_id = e.request_invoice(order, buyer_of(name, company, tax_code, address, email), kind)
    info = e.invoice(invoice_id)
    typer.echo(f"invoice {invoice_id} requested for order {info.order_reference}: {info.total} VND")


@invoice_app.command("if-due")
@reports_errors
def if_due(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="Order id or CHANNEL/EXTERNAL_ID")],
) -> None:
    """Request the order's invoice if its total reaches ORDERFLOW_INVOICE_THRESHOLD."""
    invoice_id = engine(ctx).issue_invoice_if_due(order)
    typer.echo(f"invoice {invoice_id} requested" if invoice_id else "no invoice due")


@invoice_app.command("issued")
@reports_errors
def issued(
    ctx: typer.Context,
    invoice: InvoiceArg,
    number: Annotated[str, typer.Argument(help="The invoice number the provider gave")],
    series: Annotated[str, typer.Argument(help="The series (ký hiệu), e.g. C26TAA")],
    template: Annotated[str, typer.Option(help="Template code, e.g. 1/001")] = "",
    authority_code: Annotated[str, typer.Option(help="The tax authority's code")] = "",
    at: Annotated[str | None, typer.Option(help="Issued at (ISO date-time; default now)")] = None,
) -> None:
    """Record the provider's number, series and tax-authority code for a requested invoice."""
    e = engine(ctx)
    e.record_invoice_issued(invoice, number, series, template, authority_code, "", at)
    info = e.invoice(invoice)
    typer.echo(f"invoice {info.series}-{info.number} issued for order {info.order_reference}")


@invoice_app.command("replace")
@reports_errors
def replace(
    ctx: typer.Context,
    invoice: InvoiceArg,
    reason: Reason,
    name: Name = None, company: Company = None, tax_code: TaxCode = None,
    address: Address = None, email: Email = None,
) -> None:  # fmt: skip
    """Request a replacement of an issued invoice (corrected buyer, order as it stands now)."""
    e = engine(ctx)
    new_id = e.replace_invoice(
        invoice, reason, buyer=buyer_of(name, company, tax_code, address, email), issue=False
    )
    typer.echo(f"replacement invoice {new_id} requested; invoice {invoice} is replaced")


@invoice_app.command("adjust")
@reports_errors
def adjust(
    ctx: typer.Context,
    invoice: InvoiceArg,
    reason: Reason,
    increase: Annotated[
        list[str] | None, typer.Option(help="NAME:QTY:UNIT_PRICE:VAT_RATE added (repeat)")
    ] = None,
    decrease: Annotated[
        list[str] | None, typer.Option(help="NAME:QTY:UNIT_PRICE:VAT_RATE taken off (repeat)")
    ] = None,
    name: Name = None, company: Company = None, tax_code: TaxCode = None,
    address: Address = None, email: Email = None,
) -> None:  # fmt: skip
    """Request an adjustment invoice: money (--increase / --decrease) or information (buyer)."""
    lines = [adjustment_line(t, True) for t in increase or []]
    lines += [adjustment_line(t, False) for t in decrease or []]
    buyer = buyer_of(name, company, tax_code, address, email)
    new_id = engine(ctx).adjust_invoice(invoice, reason, lines=lines, buyer=buyer, issue=False)
    typer.echo(f"adjustment invoice {new_id} requested for invoice {invoice}")


@invoice_app.command("show")
@reports_errors
def show(ctx: typer.Context, invoice: InvoiceArg, as_json: JsonFlag = False) -> None:
    """Show an invoice: buyer, lines, VAT per rate, number and series."""
    info = engine(ctx).invoice(invoice)
    if as_json:
        return print_json(info)
    print_invoice(info)


@invoice_app.command("list")
@reports_errors
def list_invoices(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="Order id or CHANNEL/EXTERNAL_ID")],
    as_json: JsonFlag = False,
) -> None:
    """List an order's invoices (originals, replacements, adjustments)."""
    found = engine(ctx).invoices_of_order(order)
    if as_json:
        return print_json(found)
    rows = [
        (
            i.id,
            i.purpose,
            i.status,
            f"{i.series}-{i.number}" if i.number else "-",
            i.total_vat,
            i.total,
        )
        for i in found
    ]
    print_table("Invoices", ["id", "purpose", "status", "number", "VAT", "total"], rows)
