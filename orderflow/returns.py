"""Return: goods of a shipped order coming back, and what the seller did about them.

(The module is `returns` because `return` is a keyword.) A return is received with its lines and
their condition: resellable units go back to stock, damaged ones are received and written off
(so the stock ledger shows both). Then a refund, a corrected invoice and an exchange order may
follow, each recorded here so the return tells its whole story.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Final

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow import values
from orderflow.errors import InvalidInputError, InvalidStateError
from orderflow.moments import iso

CONDITIONS: Final = ("resellable", "damaged")


def condition(value: object, field: str) -> str:
    """resellable (back to stock) or damaged (written off)."""
    return values.choice(value, field, CONDITIONS)


def return_lines(given: Sequence[Mapping[str, object]]) -> list[dict[str, Any]]:
    """SKU, quantity and condition per line; a SKU may appear once per condition."""
    if not given:
        raise InvalidInputError("lines", "a return needs at least one line")
    checked, seen = [], set()
    for index, item in enumerate(given):
        where = f"lines[{index}]"
        unknown = sorted(set(item) - {"sku", "quantity", "condition"})
        if unknown:
            raise InvalidInputError(where, f"unknown field(s) {', '.join(unknown)}")
        line = {
            "sku": values.code(item.get("sku"), f"{where}.sku"),
            "quantity": values.quantity(item.get("quantity"), f"{where}.quantity"),
            "condition": condition(item.get("condition", "resellable"), f"{where}.condition"),
        }
        key = (line["sku"], line["condition"])
        if key in seen:
            raise InvalidInputError(
                "lines", f"{key[0]} ({key[1]}) appears twice; give one line each"
            )
        seen.add(key)
        checked.append(line)
    return checked


class Return(Aggregate):
    """Goods returned from one order."""

    Received: ClassVar[type[DomainEvent]]

    @event("Received")
    def __init__(
        self,
        order_id: str,
        order_reference: str,
        lines: list[dict[str, Any]],
        reason: str,
        received_at: str,
    ) -> None:
        self.order_id = order_id
        self.order_reference = order_reference
        self.lines = [dict(line) for line in lines]
        self.reason = reason
        self.received_at = received_at
        self.refunds: list[dict[str, Any]] = []
        self.invoice_id = ""
        self.exchange_order_id = ""
        self.exchange_credit = Decimal(0)

    @classmethod
    def receive(
        cls,
        order_id: str,
        order_reference: str,
        lines: Sequence[Mapping[str, Any]],
        reason: object = "",
        at: datetime | str | None = None,
    ) -> Return:
        """Record goods received back. Lines are already priced and placed by the engine:
        sku, name, quantity, condition, unit_price, warehouse."""
        return cls(
            order_id=str(order_id),
            order_reference=order_reference,
            lines=[dict(line) for line in lines],
            reason=values.text(reason, "reason", max_length=500, required=False),
            received_at=iso(at),
        )

    # derived ------------------------------------------------------------------------------
    @property
    def subject(self) -> str:
        return f"return {self.id} of order {self.order_reference}"

    @property
    def goods_value(self) -> Decimal:
        """What the returned goods cost the buyer (VAT-inclusive)."""
        return sum((line["quantity"] * line["unit_price"] for line in self.lines), Decimal(0))

    @property
    def refunded(self) -> Decimal:
        return sum((r["amount"] for r in self.refunds), Decimal(0))

    def returned(self, sku: str) -> int:
        """Units of a SKU in this return, whatever their condition."""
        return sum(line["quantity"] for line in self.lines if line["sku"] == sku)

    def _refuse(self, reason: str) -> InvalidStateError:
        return InvalidStateError(self.subject, reason)

    # what followed ------------------------------------------------------------------------
    def record_refund(
        self, amount: Decimal, reference: str, at: datetime | str | None = None
    ) -> None:
        """Money paid back for this return (the order checks it against what was paid)."""
        if self.exchange_order_id:
            raise self._refuse(
                f"cannot refund: its value went to exchange order {self.exchange_order_id}"
            )
        self._refunded(amount=amount, reference=reference, at=iso(at))

    @event("Refunded")
    def _refunded(self, amount: Decimal, reference: str, at: str) -> None:
        self.refunds.append({"amount": amount, "reference": reference, "at": at})

    def record_invoice(self, invoice_id: str) -> None:
        """The replacement or adjustment invoice that takes the returned goods off the bill."""
        if self.invoice_id == invoice_id:
            return
        if self.invoice_id:
            raise self._refuse(f"the invoice was already corrected by invoice {self.invoice_id}")
        self._invoice_corrected(invoice_id=invoice_id)

    @event("InvoiceCorrected")
    def _invoice_corrected(self, invoice_id: str) -> None:
        self.invoice_id = invoice_id

    def record_exchange(self, order_id: str, credit: Decimal) -> None:
        """The goods are exchanged: a new order, paid (up to `credit`) by the returned goods."""
        if self.exchange_order_id == order_id:
            return
        if self.exchange_order_id:
            raise self._refuse(f"is already exchanged for order {self.exchange_order_id}")
        if self.refunds:
            raise self._refuse(f"cannot exchange: {self.refunded} VND was already refunded for it")
        self._exchanged(order_id=order_id, credit=credit)

    @event("Exchanged")
    def _exchanged(self, order_id: str, credit: Decimal) -> None:
        self.exchange_order_id = order_id
        self.exchange_credit = credit
