"""StockItem: the stock of one SKU in one warehouse, and every movement of it."""

from __future__ import annotations

from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from orderflow.errors import InsufficientStockError, InvalidInputError, InvalidStateError


class ReceiptReason(StrEnum):
    """Why goods came into a warehouse."""

    INITIAL = "initial"
    PURCHASE_RECEIPT = "purchase_receipt"
    RETURN = "return"
    CORRECTION = "correction"

    @classmethod
    def parse(cls, value: object) -> ReceiptReason:
        try:
            return cls(str(value).strip().lower().replace("-", "_").replace(" ", "_"))
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise InvalidInputError("reason", f"unknown reason {value!r} (allowed: {allowed})") from None


class StockItem(Aggregate):
    """On hand and reserved units of a SKU in a warehouse. Available = on hand - reserved >= 0."""

    @staticmethod
    def create_id(sku: str, warehouse: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"orderflow:stock:{sku}@{warehouse}")

    @event("Opened")
    def __init__(self, sku: str, warehouse: str) -> None:
        self.sku = sku
        self.warehouse = warehouse
        self.on_hand = 0
        self.reservations: dict[str, int] = {}

    @property
    def reserved(self) -> int:
        return sum(self.reservations.values())

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def reserved_for(self, order_id: UUID | str) -> int:
        """Units held for one order."""
        return self.reservations.get(str(order_id), 0)

    def _shortage(self, requested: int, available: int, what: str) -> InsufficientStockError:
        return InsufficientStockError(self.sku, self.warehouse, requested, available, what)

    # receipts -----------------------------------------------------------------------------
    def receive(self, quantity: int, reason: ReceiptReason, reference: str = "") -> None:
        """Goods came in."""
        self._received(quantity=quantity, reason=reason.value, reference=reference)

    @event("Received")
    def _received(self, quantity: int, reason: str, reference: str) -> None:
        self.on_hand += quantity

    def restock(self, quantity: int, reference: str = "") -> None:
        """Resellable goods from a return go back on the shelf."""
        self._restocked(quantity=quantity, reference=reference)

    @event("Restocked")
    def _restocked(self, quantity: int, reference: str) -> None:
        self.on_hand += quantity

    # reservations -------------------------------------------------------------------------
    def reserve(self, order_id: UUID | str, quantity: int) -> None:
        """Hold units for an order."""
        if quantity > self.available:
            raise self._shortage(quantity, self.available, "cannot reserve")
        self._reserved(order_id=str(order_id), quantity=quantity)

    @event("Reserved")
    def _reserved(self, order_id: str, quantity: int) -> None:
        self.reservations[order_id] = self.reservations.get(order_id, 0) + quantity

    def release(self, order_id: UUID | str, quantity: int | None = None, reason: str = "") -> int:
        """Give back units held for an order (all of them when quantity is None)."""
        held = self.reserved_for(order_id)
        amount = held if quantity is None else quantity
        if held == 0 and quantity is None:
            return 0
        if amount > held:
            raise InvalidInputError(
                "quantity", f"cannot release {amount} of {self.sku} in {self.warehouse}: only {held} reserved for order {order_id}"
            )
        self._released(order_id=str(order_id), quantity=amount, reason=reason)
        return amount

    @event("Released")
    def _released(self, order_id: str, quantity: int, reason: str) -> None:
        self._take_from_reservation(order_id, quantity)

    def _take_from_reservation(self, order_id: str, quantity: int) -> None:
        left = self.reservations.get(order_id, 0) - quantity
        if left:
            self.reservations[order_id] = left
        else:
            self.reservations.pop(order_id, None)

    def ship(self, order_id: UUID | str, quantity: int, reference: str = "") -> None:
        """Reserved units leave the warehouse for an order."""
        held = self.reserved_for(order_id)
        if quantity > held:
            raise InvalidInputError(
                "quantity", f"cannot ship {quantity} of {self.sku} from {self.warehouse}: only {held} reserved for order {order_id}"
            )
        self._shipped(order_id=str(order_id), quantity=quantity, reference=reference)

    @event("Shipped")
    def _shipped(self, order_id: str, quantity: int, reference: str) -> None:
        self._take_from_reservation(order_id, quantity)
        self.on_hand -= quantity

    # losses, counts, transfers ------------------------------------------------------------
    def write_off(self, quantity: int, reason: str, reference: str = "") -> None:
        """Damaged or lost units leave the stock. Only available units can be written off."""
        if quantity > self.available:
            raise self._shortage(quantity, self.available, "cannot write off")
        self._written_off(quantity=quantity, reason=reason, reference=reference)

    @event("WrittenOff")
    def _written_off(self, quantity: int, reason: str, reference: str) -> None:
        self.on_hand -= quantity

    def count(self, counted: int, counted_by: str = "", reference: str = "") -> int:
        """Record a physical count; the difference to on hand becomes an adjustment. Returns it."""
        if counted < self.reserved:
            raise InvalidStateError(
                f"stock count of {self.sku} in {self.warehouse}",
                f"counted {counted} is below the {self.reserved} units reserved for orders; "
                "release or reallocate those reservations first",
            )
        difference = counted - self.on_hand
        self._counted(
            counted=counted, expected=self.on_hand, difference=difference,
            counted_by=counted_by, reference=reference,
        )
        return difference

    @event("Counted")
    def _counted(self, counted: int, expected: int, difference: int, counted_by: str, reference: str) -> None:
        self.on_hand += difference

    def transfer_out(self, quantity: int, to_warehouse: str, reference: str = "") -> None:
        """Available units leave for another warehouse."""
        if quantity > self.available:
            raise self._shortage(quantity, self.available, "cannot transfer")
        self._transferred_out(quantity=quantity, to_warehouse=to_warehouse, reference=reference)

    @event("TransferredOut")
    def _transferred_out(self, quantity: int, to_warehouse: str, reference: str) -> None:
        self.on_hand -= quantity

    def transfer_in(self, quantity: int, from_warehouse: str, reference: str = "") -> None:
        """Units arrive from another warehouse."""
        self._transferred_in(quantity=quantity, from_warehouse=from_warehouse, reference=reference)

    @event("TransferredIn")
    def _transferred_in(self, quantity: int, from_warehouse: str, reference: str) -> None:
        self.on_hand += quantity
