"""StockItem: the stock of one SKU in one warehouse, and every movement of it."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow import values
from orderflow.errors import InsufficientStockError, InvalidInputError, InvalidStateError
from orderflow.values import named_id


class ReceiptReason(StrEnum):
    """Why goods came into a warehouse."""

    INITIAL = "initial"
    PURCHASE_RECEIPT = "purchase_receipt"
    RETURN = "return"
    CORRECTION = "correction"

    @classmethod
    def parse(cls, value: object) -> ReceiptReason:
        """Accept 'purchase_receipt', 'Purchase receipt', 'purchase-receipt' ..."""
        try:
            return cls(str(value).strip().lower().replace("-", "_").replace(" ", "_"))
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise InvalidInputError(
                "reason", f"unknown reason {value!r} (allowed: {allowed})"
            ) from None


def _order(order_id: UUID | str) -> str:
    return values.text(str(order_id), "order_id", max_length=100)


class StockItem(Aggregate):
    """On hand and reserved units of a SKU in a warehouse. Available = on hand - reserved >= 0.

    Every command checks its quantity itself, so no sequence of commands can break
    on_hand >= reserved >= 0, whoever calls them.
    """

    Opened: ClassVar[type[DomainEvent]]
    Reserved: ClassVar[type[Aggregate.Event]]  # triggered directly: see below
    flat_state: ClassVar[bool] = True
    """Its state is scalars and dicts of scalars only: copied one level deep (private_copy)."""

    @staticmethod
    def create_id(sku: str, warehouse: str) -> UUID:
        return named_id(f"orderflow:stock:{sku}@{warehouse}")

    @event("Opened")
    def __init__(self, sku: str, warehouse: str) -> None:
        """Open the stock of a SKU in a warehouse, empty."""
        self.sku = sku
        self.warehouse = warehouse
        self.on_hand = 0
        self.reservations: dict[str, int] = {}
        self.reserved_total = 0  # sum of reservations, kept as they change (hot SKUs: thousands)

    def __getattr__(self, name: str) -> int:
        """Snapshots taken before `reserved_total` existed: count it once from the reservations."""
        if name != "reserved_total" or "reservations" not in self.__dict__:
            raise AttributeError(name)
        self.reserved_total = sum(self.reservations.values())
        return self.reserved_total

    @property
    def reserved(self) -> int:
        """Units held for orders."""
        return self.reserved_total

    @property
    def available(self) -> int:
        """Units that can be reserved, written off or transferred."""
        return self.on_hand - self.reserved

    def reserved_for(self, order_id: UUID | str) -> int:
        """Units held for one order."""
        return self.reservations.get(str(order_id), 0)

    def _shortage(self, requested: int, available: int, what: str) -> InsufficientStockError:
        return InsufficientStockError(self.sku, self.warehouse, requested, available, what)

    # receipts -----------------------------------------------------------------------------
    def receive(self, quantity: int, reason: ReceiptReason | str, reference: str = "") -> None:
        """Goods came in."""
        self._received(
            quantity=values.quantity(quantity),
            reason=ReceiptReason.parse(reason).value,
            reference=values.text(reference, "reference", required=False),
        )

    @event("Received")
    def _received(self, quantity: int, reason: str, reference: str) -> None:
        self.on_hand += quantity

    def restock(self, quantity: int, reference: str = "") -> None:
        """Resellable goods from a return go back on the shelf."""
        self._restocked(
            quantity=values.quantity(quantity),
            reference=values.text(reference, "reference", required=False),
        )

    @event("Restocked")
    def _restocked(self, quantity: int, reference: str) -> None:
        self.on_hand += quantity

    # reservations -------------------------------------------------------------------------
    def reserve(self, order_id: UUID | str, quantity: int) -> None:
        """Hold units for an order."""
        order, qty = _order(order_id), values.quantity(quantity)
        if qty > self.available:
            raise self._shortage(qty, self.available, "cannot reserve")
        # the event of _reserved, triggered directly: three per order placed, and the decorated
        # call's argument handling costs about as much as the event itself
        self.trigger_event(self.Reserved, order_id=order, quantity=qty)

    @event("Reserved")
    def _reserved(self, order_id: str, quantity: int) -> None:
        self.reservations[order_id] = self.reservations.get(order_id, 0) + quantity
        self.reserved_total += quantity

    def release(self, order_id: UUID | str, quantity: int | None = None, reason: str = "") -> int:
        """Give back units held for an order (all of them when quantity is None). Returns them."""
        order = _order(order_id)
        held = self.reserved_for(order)
        amount = held if quantity is None else values.quantity(quantity)
        if held == 0 and quantity is None:
            return 0
        if amount > held:
            raise self._beyond_reservation("release", amount, held, order)
        why = values.text(reason, "reason", required=False)
        self._released(order_id=order, quantity=amount, reason=why)
        return amount

    def _beyond_reservation(
        self, verb: str, quantity: int, held: int, order: str
    ) -> InvalidInputError:
        return InvalidInputError(
            "quantity",
            f"cannot {verb} {quantity} of {self.sku} in {self.warehouse}: "
            f"only {held} reserved for order {order}",
        )

    @event("Released")
    def _released(self, order_id: str, quantity: int, reason: str) -> None:
        self._take_from_reservation(order_id, quantity)

    def _take_from_reservation(self, order_id: str, quantity: int) -> None:
        left = self.reservations.get(order_id, 0) - quantity
        if left:
            self.reservations[order_id] = left
        else:
            self.reservations.pop(order_id, None)
        self.reserved_total -= quantity

    def ship(self, order_id: UUID | str, quantity: int, reference: str = "") -> None:
        """Reserved units leave the warehouse for an order."""
        order, qty = _order(order_id), values.quantity(quantity)
        held = self.reserved_for(order)
        if qty > held:
            raise self._beyond_reservation("ship", qty, held, order)
        ref = values.text(reference, "reference", required=False)
        self._shipped(order_id=order, quantity=qty, reference=ref)

    @event("Shipped")
    def _shipped(self, order_id: str, quantity: int, reference: str) -> None:
        self._take_from_reservation(order_id, quantity)
        self.on_hand -= quantity

    # losses, counts, transfers ------------------------------------------------------------
    def write_off(self, quantity: int, reason: str, reference: str = "") -> None:
        """Damaged or lost units leave the stock. Only available units can be written off."""
        qty, why = values.quantity(quantity), values.text(reason, "reason")
        if qty > self.available:
            raise self._shortage(qty, self.available, "cannot write off")
        ref = values.text(reference, "reference", required=False)
        self._written_off(quantity=qty, reason=why, reference=ref)

    @event("WrittenOff")
    def _written_off(self, quantity: int, reason: str, reference: str) -> None:
        self.on_hand -= quantity

    def count(self, counted: int, counted_by: str = "", reference: str = "") -> int:
        """Record a physical count; the difference to on hand becomes an adjustment. Returns it."""
        number = values.count(counted)
        if number < self.reserved:
            raise InvalidStateError(
                f"stock count of {self.sku} in {self.warehouse}",
                f"counted {number} is below the {self.reserved} units reserved for orders; "
                "release or reallocate those reservations first",
            )
        difference = number - self.on_hand
        self._counted(
            counted=number,
            expected=self.on_hand,
            difference=difference,
            counted_by=values.text(counted_by, "counted_by", required=False),
            reference=values.text(reference, "reference", required=False),
        )
        return difference

    @event("Counted")
    def _counted(
        self, counted: int, expected: int, difference: int, counted_by: str, reference: str
    ) -> None:
        self.on_hand += difference

    def transfer_out(self, quantity: int, to_warehouse: str, reference: str = "") -> None:
        """Available units leave for another warehouse."""
        qty = values.quantity(quantity)
        if qty > self.available:
            raise self._shortage(qty, self.available, "cannot transfer")
        ref = values.text(reference, "reference", required=False)
        self._transferred_out(quantity=qty, to_warehouse=to_warehouse, reference=ref)

    @event("TransferredOut")
    def _transferred_out(self, quantity: int, to_warehouse: str, reference: str) -> None:
        self.on_hand -= quantity

    def transfer_in(self, quantity: int, from_warehouse: str, reference: str = "") -> None:
        """Units arrive from another warehouse."""
        qty = values.quantity(quantity)
        ref = values.text(reference, "reference", required=False)
        self._transferred_in(quantity=qty, from_warehouse=from_warehouse, reference=ref)

    @event("TransferredIn")
    def _transferred_in(self, quantity: int, from_warehouse: str, reference: str) -> None:
        self.on_hand += quantity
