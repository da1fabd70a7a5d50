"""PurchaseOrder: goods ordered from a supplier into a warehouse, received in one or more receipts.

draft -> confirmed -> partly_received -> received; cancelling a draft or a confirmed order with
nothing received makes it `cancelled`; cancelling the remainder of a partly received one makes
it `closed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Final

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow import values
from orderflow.errors import InvalidInputError, InvalidStateError
from orderflow.order import moment

OPEN: Final = ("confirmed", "partly_received")


def po_lines(given: Sequence[Mapping[str, object]]) -> list[dict[str, Any]]:
    """SKU, quantity and unit cost (VND, before VAT) per line; one line per SKU."""
    if not given:
        raise InvalidInputError("lines", "a purchase order needs at least one line")
    checked = []
    for i, item in enumerate(given):
        where = f"lines[{i}]"
        unknown = sorted(set(item) - {"sku", "quantity", "unit_cost"})
        if unknown:
            raise InvalidInputError(where, f"unknown field(s) {', '.join(unknown)}")
        checked.append(
            {
                "sku": values.code(item.get("sku"), f"{where}.sku"),
                "quantity": values.quantity(item.get("quantity"), f"{where}.quantity"),
                "unit_cost": values.money(item.get("unit_cost", 0), f"{where}.unit_cost"),
            }
        )
    skus = [line["sku"] for line in checked]
    if len(set(skus)) != len(skus):
        raise InvalidInputError("lines", "give one line per SKU")
    return checked


class PurchaseOrder(Aggregate):
    """A purchase order to one supplier for one destination warehouse."""

    Drafted: ClassVar[type[DomainEvent]]

    @classmethod
    def draft(
        cls,
        supplier: str,
        warehouse: str,
        lines: Sequence[Mapping[str, object]],
        note: str = "",
    ) -> PurchaseOrder:
        """Check and record a new draft."""
        return cls(
            supplier=supplier,
            warehouse=warehouse,
            lines=po_lines(lines),
            note=values.text(note, "note", max_length=1000, required=False),
        )

    @event("Drafted")
    def __init__(
        self, supplier: str, warehouse: str, lines: list[dict[str, Any]], note: str
    ) -> None:
        self.supplier = supplier
        self.warehouse = warehouse
        self.lines = [{**line, "received": 0} for line in lines]
        self.note = note
        self.status = "draft"
        self.receipts: list[dict[str, Any]] = []
        self.cancel_reason = ""

    # derived ------------------------------------------------------------------------------
    @property
    def number(self) -> str:
        """A short reference for people: PO- and the first 8 hex digits of the id."""
        return f"PO-{self.id.hex[:8].upper()}"

    @property
    def total_cost(self) -> Decimal:
        return sum((line["quantity"] * line["unit_cost"] for line in self.lines), Decimal(0))

    def line(self, sku: str) -> dict[str, Any] | None:
        return next((line for line in self.lines if line["sku"] == sku), None)

    def remaining(self, sku: str) -> int:
        """Units still expected (0 once received, cancelled or closed)."""
        found = self.line(sku)
        if not found or self.status not in ("draft", *OPEN):
            return 0
        return max(int(found["quantity"]) - int(found["received"]), 0)

    def _refuse(self, reason: str) -> InvalidStateError:
        return InvalidStateError(f"purchase order {self.number}", reason)

    # commands -----------------------------------------------------------------------------
    def change_lines(self, lines: Sequence[Mapping[str, object]]) -> None:
        """Replace the lines of a draft."""
        if self.status != "draft":
            raise self._refuse(f"cannot change the lines: it is {self.status}, not a draft")
        self._lines_changed(lines=po_lines(lines))

    @event("LinesChanged")
    def _lines_changed(self, lines: list[dict[str, Any]]) -> None:
        self.lines = [{**line, "received": 0} for line in lines]

    def confirm(self) -> None:
        """Send the order to the supplier: goods can now be received against it."""
        if self.status != "draft":
            raise self._refuse(f"cannot confirm: it is {self.status}, not a draft")
        self._confirmed()

    @event("Confirmed")
    def _confirmed(self) -> None:
        self.status = "confirmed"

    def receive(
        self,
        receipt_number: str,
        quantities: Mapping[str, int],
        allow_over_receipt: bool = False,
        at: datetime | str | None = None,
    ) -> bool:
        """Record a goods receipt; False when this receipt number was already recorded as is.

        Empty `quantities` only repeat a known receipt number (which changes nothing).
        """
        number = values.code(receipt_number, "receipt_number")
        when = moment(at)
        previous = next((r for r in self.receipts if r["number"] == number), None)
        if previous is None and self.status not in OPEN:
            raise self._refuse(f"cannot receive goods: it is {self.status}, not confirmed")
        if previous is not None:  # the same receipt reported again
            if quantities and self._checked_quantities(quantities) != previous["quantities"]:
                raise self._refuse(f"receipt {number} was already recorded with other quantities")
            return False
        counted = self._checked_quantities(quantities)
        if not allow_over_receipt:
            self._refuse_over_receipt(counted)
        self._received(number=number, quantities=counted, at=when)
        return True

    def _checked_quantities(self, quantities: Mapping[str, int]) -> dict[str, int]:
        if not quantities:
            raise InvalidInputError("quantities", "receive at least one SKU")
        counted: dict[str, int] = {}
        for sku, qty in quantities.items():
            code = values.code(sku, "quantities.sku")
            if self.line(code) is None:
                raise self._refuse(f"{code} is not on this purchase order")
            counted[code] = counted.get(code, 0) + values.quantity(qty, f"quantities.{code}")
        return counted

    def _refuse_over_receipt(self, counted: Mapping[str, int]) -> None:
        for sku, qty in counted.items():
            line = self.line(sku) or {}
            left = line["quantity"] - line["received"]
            if qty > left:
                raise self._refuse(
                    f"receiving {qty} of {sku} is more than the {left} still expected; "
                    "say allow_over_receipt to accept the extra units"
                )

    @event("GoodsReceived")
    def _received(self, number: str, quantities: dict[str, int], at: str) -> None:
        for sku, qty in quantities.items():
            line = self.line(sku)
            if line is not None:
                line["received"] += qty
        self.receipts.append({"number": number, "quantities": dict(quantities), "at": at})
        complete = all(line["received"] >= line["quantity"] for line in self.lines)
        self.status = "received" if complete else "partly_received"

    def cancel_remainder(self, reason: str) -> None:
        """Cancel what was not received yet (the whole order when nothing was)."""
        why = values.text(reason, "reason", max_length=500)
        if self.status not in ("draft", *OPEN):
            raise self._refuse(f"cannot cancel: it is already {self.status}")
        self._remainder_cancelled(reason=why)

    @event("RemainderCancelled")
    def _remainder_cancelled(self, reason: str) -> None:
        self.status = "closed" if self.status == "partly_received" else "cancelled"
        self.cancel_reason = reason
