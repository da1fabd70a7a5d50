"""Sourcing: which supplier a SKU is bought from, at what cost, into which warehouse."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow.values import named_id


class Sourcing(Aggregate):
    """The preferred supplier of one SKU; purchase proposals follow it."""

    Chosen: ClassVar[type[DomainEvent]]

    @staticmethod
    def create_id(sku: str) -> UUID:
        return named_id(f"orderflow:sourcing:{sku}")

    @event("Chosen")
    def __init__(self, sku: str, supplier: str, unit_cost: Decimal | None, warehouse: str) -> None:
        self.sku = sku
        self.supplier = supplier
        self.unit_cost = unit_cost  # None: the variant's cost price at the time of proposing
        self.warehouse = warehouse  # "": the warehouse the proposal is for

    def choose(self, supplier: str, unit_cost: Decimal | None, warehouse: str) -> None:
        """Buy this SKU from another supplier, or at another cost, or into another warehouse."""
        if (supplier, unit_cost, warehouse) != (self.supplier, self.unit_cost, self.warehouse):
            self._changed(supplier=supplier, unit_cost=unit_cost, warehouse=warehouse)

    @event("Changed")
    def _changed(self, supplier: str, unit_cost: Decimal | None, warehouse: str) -> None:
        self.supplier, self.unit_cost, self.warehouse = supplier, unit_cost, warehouse
