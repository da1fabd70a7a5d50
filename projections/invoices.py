"""The invoice register: issued e-invoices by period, totals per VAT rate, replacements linked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from orderflow.projections.sql import Table
from orderflow.projections.view import LOCAL_TIME, Batch, Event, View, events_of, from_micros, on

from orderflow.invoice import Invoice
from orderflow.moments import instant

COLUMNS = (
    "i.invoice_id, i.order_reference, i.kind, i.purpose, i.status, i.series, i.number,"
    " i.tax_authority_code, "
    "i.buyer, i.buyer_tax_code, i.issued_us, i.total, i.net, i.vat, i.replaces, i.replaced_by,"
    " i.adjusts, "
    "r.series || '-' || r.number, b.series || '-' || b.number"
)


@dataclass(frozen=True)
class InvoiceRow:
    """An issued invoice. `replaces` / `replaced_by` name the linked invoices as SERIES-NUMBER."""

    id: UUID
    order_reference: str
    kind: str
    purpose: str
    status: str
    series: str
    number: str
    tax_authority_code: str
    buyer: str
    buyer_tax_code: str
    issued_at: datetime
    total: Decimal
    net: Decimal
    vat: Decimal
    replaces_id: str
    replaced_by_id: str
    adjusts_id: str
    replaces: str
    replaced_by: str


@dataclass(frozen=True)
class VatTotal:
    """Net and VAT of one rate over the invoices of a period (replaced invoices left out)."""

    vat_rate: str
    invoices: int
    net: Decimal
    vat: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


class InvoiceRegister(View):
    """One row per invoice and one per invoice and VAT rate, from each invoice's state."""

    name = "invoices"
    title = "invoice register by period, totals per VAT rate, replacements linked"
    tables = (
        Table(
            "invoices",
            "invoice_id text, order_id text, order_reference text, kind text, purpose text,"
            " status text, "
            "series text, number text, tax_authority_code text, buyer text, buyer_tax_code text, "
            "issued_us int, period text, total int, net int, vat int, replaces text, replaced_by"
            " text, "
            "adjusts text",
            key="invoice_id",
            indexes=("period, issued_us", "order_id"),
        ),
        Table(
            "taxes", "invoice_id text, vat_rate text, net int, vat int", key="invoice_id, vat_rate"
        ),
    )

    @on(*events_of(Invoice))
    def invoice_changed(self, batch: Batch, event: Event) -> None:
        inv = batch.state(event)
        batch.later(inv.id, lambda: self._put_invoice(batch, inv))
        if isinstance(event, Invoice.Requested):
            for tax in inv.taxes:
                batch.put(
                    "taxes",
                    invoice_id=inv.id,
                    vat_rate=tax["vat_rate"],
                    net=tax["net"],
                    vat=tax["vat"],
                )

    @staticmethod
    def _put_invoice(batch: Batch, inv: Any) -> None:
        issued = instant(inv.issued_at) if inv.issued_at else None
        batch.put(
            "invoices",
            invoice_id=inv.id,
            order_id=inv.order_id,
            order_reference=inv.order_reference,
            kind=inv.kind,
            purpose=inv.purpose,
            status=inv.status,
            series=inv.series,
            number=inv.number,
            tax_authority_code=inv.tax_authority_code,
            buyer=inv.buyer.get("company") or inv.buyer.get("name", ""),
            buyer_tax_code=inv.buyer.get("tax_code", ""),
            issued_us=issued or 0,
            period=issued.astimezone(LOCAL_TIME).strftime("%Y-%m") if issued else "",
            total=inv.total,
            net=inv.total_net,
            vat=inv.total_vat,
            replaces=inv.replaces,
            replaced_by=inv.replaced_by,
            adjusts=inv.adjusts,
        )

    # queries ------------------------------------------------------------------------------
    def register(self, period: str | None = None, order_id: str | None = None) -> list[InvoiceRow]:
        """Issued invoices (of a month YYYY-MM, or of an order), in the order they were issued."""
        where, params = ["i.number <> ''"], []
        if period:
            where.append("i.period = ?")
            params.append(period)
        if order_id:
            where.append("i.order_id = ?")
            params.append(order_id)
        rows = self.query(
            f"SELECT {COLUMNS} FROM {{invoices}} i LEFT JOIN {{invoices}} r ON r.invoice_id ="
            " i.replaces"
            f" LEFT JOIN {{invoices}} b ON b.invoice_id = i.replaced_by WHERE {' AND '.join(where)}"
            " ORDER BY i.issued_us, i.invoice_id",
            params,
        )
        return [
            InvoiceRow(
                UUID(r[0]),
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                r[9],
                from_micros(r[10]),
                Decimal(r[11]),
                Decimal(r[12]),
                Decimal(r[13]),
                r[14],
                r[15],
                r[16],
                _link(r[17]),
                _link(r[18]),
            )
            for r in rows
        ]

    def vat_totals(self, period: str) -> list[VatTotal]:
        """Net and VAT per rate of the VAT invoices issued in a month that still stand."""
        rows = self.query(
            "SELECT t.vat_rate, COUNT(*), SUM(t.net), SUM(t.vat) FROM {taxes} t JOIN {invoices} i"
            " ON i.invoice_id = t.invoice_id WHERE i.period = ? AND i.status = ? AND i.kind = ?"
            " GROUP BY t.vat_rate ORDER BY t.vat_rate",
            [period, "issued", "vat"],
        )
        return [
            VatTotal(rate, int(n), Decimal(net or 0), Decimal(vat or 0))
            for rate, n, net, vat in rows
        ]


def _link(number: str | None) -> str:
    return "" if not number or number == "-" else number
