"""Backlog: the orders waiting for stock of one SKU, first come first served.

Saved in the same transaction as the orders' backorders, so a goods receipt finds the waiting
orders of a SKU by loading one aggregate instead of scanning the log.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow.errors import InvalidStateError
from orderflow.values import named_id


class Backlog(Aggregate):
    """The first-come first-served queue of orders (order id -> units) waiting for a SKU."""

    Opened: ClassVar[type[DomainEvent]]
    flat_state: ClassVar[bool] = True
    """Its state is scalars and dicts of scalars only: copied one level deep (private_copy)."""

    @staticmethod
    def create_id(sku: str) -> UUID:
        return named_id(f"orderflow:backlog:{sku}")

    @event("Opened")
    def __init__(self, sku: str) -> None:
        self.sku = sku
        self.queue: dict[str, int] = {}  # order id -> units, oldest order first

    @property
    def waiting(self) -> int:
        """Units waiting in total."""
        return sum(self.queue.values())

    def waiting_for(self, order_id: UUID | str) -> int:
        return self.queue.get(str(order_id), 0)

    def order_ids(self) -> list[str]:
        """Waiting orders, oldest first."""
        return list(self.queue)

    def add(self, order_id: UUID | str, quantity: int) -> None:
        """An order waits for units; an order already waiting keeps its place."""
        if quantity <= 0:
            raise InvalidStateError(f"backlog of {self.sku}", f"cannot queue {quantity} units")
        self._added(order_id=str(order_id), quantity=quantity)

    @event("Added")
    def _added(self, order_id: str, quantity: int) -> None:
        self.queue[order_id] = self.queue.get(order_id, 0) + quantity

    def take(self, order_id: UUID | str, quantity: int, reason: str) -> None:
        """Units of an order leave the queue: filled from stock, reduced by an edit or cancelled."""
        held = self.waiting_for(order_id)
        if quantity <= 0 or quantity > held:
            raise InvalidStateError(
                f"backlog of {self.sku}", f"order {order_id} waits for {held} units, not {quantity}"
            )
        self._taken(order_id=str(order_id), quantity=quantity, reason=reason)

    def offer(self, quantity: int, reason: str) -> None:
        """Units of the SKU became available to waiting orders (recorded before they are filled).

        Every command that frees or receives stock for waiting orders records this, so an order
        that is backordering the SKU at the same moment conflicts with it and looks again.
        """
        self._offered(quantity=quantity, reason=reason)

    @event("StockOffered")
    def _offered(self, quantity: int, reason: str) -> None:
        pass

    @event("Taken")
    def _taken(self, order_id: str, quantity: int, reason: str) -> None:
        left = self.queue.get(order_id, 0) - quantity
        if left > 0:
            self.queue[order_id] = left
        else:
            self.queue.pop(order_id, None)
