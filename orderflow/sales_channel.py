"""SalesChannel: how orders from one channel are handled (its preferred warehouse)."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow.values import named_id


class SalesChannel(Aggregate):
    """Settings of one sales channel, recorded as events like everything else."""

    Configured: ClassVar[type[DomainEvent]]

    @staticmethod
    def create_id(name: str) -> UUID:
        return named_id(f"orderflow:channel:{name}")

    @event("Configured")
    def __init__(self, name: str) -> None:
        self.name = name
        self.preferred_warehouse = ""

    def prefer_warehouse(self, warehouse: str) -> None:
        """Allocate this channel's orders from this warehouse first ("" for no preference)."""
        if warehouse != self.preferred_warehouse:
            self._preferred_warehouse_set(warehouse=warehouse)

    @event("PreferredWarehouseSet")
    def _preferred_warehouse_set(self, warehouse: str) -> None:
        self.preferred_warehouse = warehouse
