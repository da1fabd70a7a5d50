"""Engine commands for e-invoices: request, issue through the provider, replace, adjust.

Like shipments, every invoice is first recorded as requested (`Invoice.Requested`) and then
issued by the provider (`Invoice.Issued` with number, series and tax-authority code). A
subscriber can do the second step (`issue_requested_invoice`), or the command does it at once
when asked to (`issue=True`, the default of `issue_invoice` / `replace_invoice` / `adjust_invoice`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from orderflow import values
from orderflow.connections import Connections, _uuid
from orderflow.engine_base import retry_on_conflict
from orderflow.errors import InvalidInputError, InvalidStateError
from orderflow.invoice import Invoice
from orderflow.moments import instant
from orderflow.order import Order
from orderflow.ports import (
    EInvoiceRequest,
    InvoiceBuyer,
    InvoiceLine,
    OriginalInvoice,
    TaxLine,
)
from orderflow.returns import Return

SHIPPING_SKU = "SHIPPING"


@dataclass(frozen=True)
class InvoiceInfo:
    """An invoice as plain data."""

    id: UUID
    order_id: str
    order_reference: str
    kind: str
    purpose: str
    adjustment: str
    status: str
    buyer: dict[str, str]
    lines: list[dict[str, Any]]
    taxes: list[dict[str, Any]]
    total_net: Decimal
    total_vat: Decimal
    total: Decimal
    payment_method: str
    number: str
    series: str
    template_code: str
    tax_authority_code: str
    reservation_code: str
    issued_at: str
    replaces: str
    replaced_by: str
    adjusts: str
    adjusted_by: list[str]
    reason: str

    @classmethod
    def of(cls, i: Invoice) -> InvoiceInfo:
        return cls(
            i.id,
            i.order_id,
            i.order_reference,
            i.kind,
            i.purpose,
            i.adjustment,
            i.status,
            dict(i.buyer),
            [dict(x) for x in i.lines],
            [dict(t) for t in i.taxes],
            i.total_net,
            i.total_vat,
            i.total,
            i.payment_method,
            i.number,
            i.series,
            i.template_code,
            i.tax_authority_code,
            i.reservation_code,
            i.issued_at,
            i.replaces,
            i.replaced_by,
            i.adjusts,
            list(i.adjusted_by),
            i.reason,
        )


class InvoicingCommands(Connections):
    """VAT e-invoices through a provider (S-Invoice, MISA)."""

    # the first invoice of an order -------------------------------------------------------------
    def request_invoice(
        self,
        order_id: UUID | str,
        buyer: Mapping[str, object] | None = None,
        kind: str = "vat",
        *,
        issue: bool = False,
    ) -> UUID:
        """Record an invoice of the order (buyer: name, company, tax_code, address, email,
        phone; default: the order's buyer as a person). Refused when the order already has one."""
        if issue:
            self._provider()
        invoice_id = cast(UUID, self._request_invoice(order_id, buyer, kind, only_if_due=False))
        if issue:
            self.issue_requested_invoice(invoice_id)
        return invoice_id

    def issue_invoice(
        self, order_id: UUID | str, buyer: Mapping[str, object] | None = None, kind: str = "vat"
    ) -> InvoiceInfo:
        """Request the order's invoice and issue it through the connected provider."""
        return self.invoice(self.request_invoice(order_id, buyer, kind, issue=True))

    def issue_invoice_if_due(self, order_id: UUID | str) -> UUID | None:
        """Invoice the order when its total reaches the connected threshold and it has none yet.

        Issued at once when a provider is connected, otherwise left requested for a subscriber.
        Returns the new invoice's id, or None when no invoice is due.
        """
        if self._invoice_threshold is None:
            return None
        invoice_id = self._request_invoice(order_id, None, "vat", only_if_due=True)
        if invoice_id is not None and self._einvoice is not None:
            self.issue_requested_invoice(invoice_id)
        return invoice_id

    @retry_on_conflict
    def _request_invoice(
        self,
        order_id: UUID | str,
        buyer: Mapping[str, object] | None,
        kind: str,
        *,
        only_if_due: bool,
    ) -> UUID | None:
        order = self._order_of(order_id)
        current = self._current_invoice(order)
        if only_if_due and (
            current or order.status == "cancelled" or order.total < (self._invoice_threshold or 0)
        ):
            return None
        if order.status == "cancelled":
            raise InvalidStateError(
                f"order {order.reference}", "cannot invoice: the order is cancelled"
            )
        if current:
            raise InvalidStateError(
                f"order {order.reference}",
                f"is already invoiced: {current.subject} is {current.status}; "
                "replace or adjust it instead",
            )
        invoice = Invoice.request(
            str(order.id),
            order.reference,
            kind,
            buyer or _order_buyer(order),
            self._invoice_items(order),
            order.payment_method,
            at=self._now(),
        )
        order.link_invoice(invoice.id)
        self._save(invoice, order)
        return invoice.id

    # issuing ---------------------------------------------------------------------------------
    def issue_requested_invoice(self, invoice_id: UUID | str) -> InvoiceInfo:
        """Send a requested invoice to the connected provider and record its number."""
        invoice = self._invoice(invoice_id)
        if invoice.number:
            return InvoiceInfo.of(invoice)
        issued = self._provider().issue(self.einvoice_request(invoice.id))
        self.record_invoice_issued(
            invoice.id,
            issued.number,
            issued.series,
            issued.template_code,
            issued.tax_authority_code,
            issued.reservation_code,
            issued.issued_at,
        )
        return self.invoice(invoice.id)

    @retry_on_conflict
    def record_invoice_issued(
        self,
        invoice_id: UUID | str,
        number: str,
        series: str,
        template_code: str = "",
        tax_authority_code: str = "",
        reservation_code: str = "",
        issued_at: datetime | str | None = None,
    ) -> None:
        """Record the provider's invoice number, series and tax-authority code."""
        invoice = self._invoice(invoice_id)
        when = instant(issued_at, "issued_at", default=self._now())
        invoice.record_issued(
            number, series, template_code, tax_authority_code, reservation_code, when
        )
        self._save(invoice)

    def einvoice_request(self, invoice_id: UUID | str) -> EInvoiceRequest:
        """What the provider is sent to issue this invoice."""
        invoice = self._invoice(invoice_id)
        refers_to = invoice.replaces or invoice.adjusts
        original = self._invoice(refers_to) if refers_to else None
        return EInvoiceRequest(
            transaction_id=str(invoice.id),
            order_reference=invoice.order_reference,
            kind=invoice.kind,
            purpose=invoice.purpose,
            adjustment=invoice.adjustment,
            buyer=InvoiceBuyer(**invoice.buyer),
            lines=tuple(
                InvoiceLine(**{k: line[k] for k in InvoiceLine.__dataclass_fields__})
                for line in invoice.lines
            ),
            taxes=tuple(TaxLine(**tax) for tax in invoice.taxes),
            total_net=invoice.total_net,
            total_vat=invoice.total_vat,
            total=invoice.total,
            payment_method=invoice.payment_method,
            original=_original(original) if original else None,
            reason=invoice.reason,
        )

    # replacing and adjusting -----------------------------------------------------------------
    def replace_invoice(
        self,
        invoice_id: UUID | str,
        reason: str,
        *,
        buyer: Mapping[str, object] | None = None,
        issue: bool = True,
    ) -> UUID:
        """Replace an issued invoice with a new one of the order as it stands (corrected buyer
        details, returned goods taken off). The old one is marked replaced."""
        if issue:
            self._provider()
        new_id = self._request_replacement(invoice_id, reason, buyer)
        if issue:
            self.issue_requested_invoice(new_id)
        return new_id

    @retry_on_conflict
    def _request_replacement(
        self, invoice_id: UUID | str, reason: str, buyer: Mapping[str, object] | None
    ) -> UUID:
        old = self._invoice(invoice_id)
        if self._money_adjusted(old):  # a replacement of the order would undo the adjustment
            raise InvalidStateError(
                old.subject,
                "cannot replace: its amounts were adjusted since it was issued, and a "
                "replacement of the order as it stands would drop that adjustment; correct it "
                "with adjust_invoice instead (lines for amounts, buyer for the buyer's details)",
            )
        order = self._order_of(old.order_id)
        chosen = buyer or self._latest_buyer(old)
        new = self._replacement(old, order, reason, chosen, self._invoice_items(order))
        self._save(new, old, order)
        return new.id

    def _replacement(
        self,
        old: Invoice,
        order: Order,
        reason: str,
        buyer: Mapping[str, object] | None,
        items: list[dict[str, Any]],
    ) -> Invoice:
        new = Invoice.request(
            str(order.id),
            order.reference,
            old.kind,
            buyer or old.buyer,
            items,
            order.payment_method,
            purpose="replacement",
            refers_to=str(old.id),
            reason=reason,
            at=self._now(),
        )
        old.mark_replaced(str(new.id), new.reason)
        order.link_invoice(new.id)
        return new

    def adjust_invoice(
        self,
        invoice_id: UUID | str,
        reason: str,
        *,
        lines: Sequence[Mapping[str, object]] | None = None,
        buyer: Mapping[str, object] | None = None,
        issue: bool = True,
    ) -> UUID:
        """Adjust an issued invoice: money (lines: sku, name, quantity, unit_price, vat_rate,
        increase) or information (buyer). The adjusted invoice stays valid."""
        if bool(lines) == bool(buyer):
            raise InvalidInputError(
                "lines", "give either lines (money adjustment) or buyer (information adjustment)"
            )
        if issue:
            self._provider()
        items = _adjustment_items(lines) if lines else []
        new_id = self._request_adjustment(invoice_id, reason, items, buyer)
        if issue:
            self.issue_requested_invoice(new_id)
        return new_id

    @retry_on_conflict
    def _request_adjustment(
        self,
        invoice_id: UUID | str,
        reason: str,
        items: list[dict[str, Any]],
        buyer: Mapping[str, object] | None,
    ) -> UUID:
        original = self._invoice(invoice_id)
        order = self._order_of(original.order_id)
        new = self._adjustment(original, order, reason, items, buyer)
        self._save(new, original, order)
        return new.id

    def _adjustment(
        self,
        original: Invoice,
        order: Order,
        reason: str,
        items: list[dict[str, Any]],
        buyer: Mapping[str, object] | None,
    ) -> Invoice:
        new = Invoice.request(
            str(order.id),
            order.reference,
            original.kind,
            buyer or original.buyer,
            items,
            order.payment_method,
            purpose="adjustment",
            adjustment_kind="money" if items else "information",
            refers_to=str(original.id),
            reason=reason,
            at=self._now(),
        )
        original.mark_adjusted(str(new.id))
        order.link_invoice(new.id)
        return new

    # queries ---------------------------------------------------------------------------------
    def invoice(self, invoice_id: UUID | str) -> InvoiceInfo:
        """One invoice by id."""
        return InvoiceInfo.of(self._invoice(invoice_id))

    def invoices_of_order(self, order_id: UUID | str) -> list[InvoiceInfo]:
        """An order's invoices (originals, replacements, adjustments), oldest first."""
        order = self._order_of(order_id)
        return [self.invoice(i) for i in order.invoice_ids]

    # helpers ---------------------------------------------------------------------------------
    def _invoice(self, invoice_id: UUID | str) -> Invoice:
        return self._load(
            Invoice, _uuid(invoice_id, "invoice_id"), "invoice_id", str(invoice_id), "invoice"
        )

    def _current_invoice(self, order: Order) -> Invoice | None:
        """The order's invoice that nothing replaced (requested or issued), if any."""
        for invoice_id in reversed(order.invoice_ids):
            invoice = self._invoice(invoice_id)
            if invoice.is_current:
                return invoice
        return None

    def _money_adjusted(self, invoice: Invoice) -> bool:
        """True when an adjustment invoice changed this invoice's amounts."""
        return any(self._invoice(i).adjustment == "money" for i in invoice.adjusted_by)

    def _latest_buyer(self, invoice: Invoice) -> dict[str, str]:
        """The buyer as the newest information adjustment corrected it (or as invoiced)."""
        for adjustment_id in reversed(invoice.adjusted_by):
            adjustment = self._invoice(adjustment_id)
            if adjustment.adjustment == "information":
                return dict(adjustment.buyer)
        return dict(invoice.buyer)

    def _returned_units(self, order: Order) -> dict[str, int]:
        """Units of each SKU that came back in the order's returns."""
        units: dict[str, int] = {}
        for return_id in order.return_ids:
            for line in self._load(Return, UUID(return_id), "return_id", return_id, "return").lines:
                units[line["sku"]] = units.get(line["sku"], 0) + line["quantity"]
        return units

    def _invoice_items(self, order: Order) -> list[dict[str, Any]]:
        """The order's lines less the units returned, plus the shipping fee."""
        returned = self._returned_units(order)
        items = []
        for line in order.lines:
            kept = line["quantity"] - returned.get(line["sku"], 0)
            if kept > 0:
                items.append(
                    _item(line["sku"], line["name"], kept, line["unit_price"], line["vat_rate"])
                )
        if order.shipping_fee > 0:
            items.append(
                _item(
                    SHIPPING_SKU,
                    "Phí vận chuyển (shipping fee)",
                    1,
                    order.shipping_fee,
                    order.shipping_vat_rate,
                )
            )
        return items


def _item(
    sku: str, name: str, quantity: int, unit_price: Decimal, vat_rate: str, sign: int = 1
) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": name,
        "quantity": quantity,
        "unit_price": unit_price,
        "vat_rate": vat_rate,
        "gross": sign * quantity * unit_price,
    }


def _adjustment_items(lines: Sequence[Mapping[str, object]]) -> list[dict[str, Any]]:
    items = []
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        unknown = sorted(
            set(line) - {"sku", "name", "quantity", "unit_price", "vat_rate", "increase"}
        )
        if unknown:
            raise InvalidInputError(where, f"unknown field(s) {', '.join(unknown)}")
        items.append(
            _item(
                values.text(line.get("sku"), f"{where}.sku", max_length=64, required=False),
                values.text(line.get("name"), f"{where}.name", max_length=300),
                values.quantity(line.get("quantity", 1), f"{where}.quantity"),
                values.money(line.get("unit_price"), f"{where}.unit_price", allow_zero=False),
                values.VatRate.parse(line.get("vat_rate", "10"), f"{where}.vat_rate").value,
                1 if line.get("increase", False) else -1,
            )
        )
    return items


def _order_buyer(order: Order) -> dict[str, str]:
    """The order's buyer as an individual invoice buyer."""
    parts = [order.address.get(k, "") for k in ("street", "ward", "district", "province")]
    return {
        "name": order.buyer["name"],
        "address": ", ".join(p for p in parts if p),
        "email": order.buyer.get("email", ""),
        "phone": order.buyer.get("phone", ""),
    }


def _original(invoice: Invoice) -> OriginalInvoice:
    return OriginalInvoice(
        invoice.number, invoice.series, invoice.template_code, instant(invoice.issued_at)
    )
