"""Warehouse: a place stock is kept and shipped from."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow.errors import InvalidStateError
from orderflow.values import named_id


class Warehouse(Aggregate):
    """A warehouse, identified by its code."""

    Registered: ClassVar[type[DomainEvent]]

    @staticmethod
    def create_id(code: str) -> UUID:
        return named_id(f"orderflow:warehouse:{code}")

    @event("Registered")
    def __init__(
        self, code: str, name: str, address: str, manager: str, phone: str, kind: str
    ) -> None:
        """Register a warehouse: code, name, address, person in charge, phone and kind."""
        self.code = code
        self.name = name
        self.address = address
        self.manager = manager
        self.phone = phone
        self.kind = kind
        self.active = True

    def update(self, name: str, address: str, manager: str, phone: str) -> None:
        """Change the warehouse's details (nothing is recorded when nothing changes)."""
        if (name, address, manager, phone) == (self.name, self.address, self.manager, self.phone):
            return
        self._updated(name=name, address=address, manager=manager, phone=phone)

    @event("Updated")
    def _updated(self, name: str, address: str, manager: str, phone: str) -> None:
        self.name, self.address, self.manager, self.phone = name, address, manager, phone

    def deactivate(self, reason: str) -> None:
        """Stop using the warehouse for receipts and new reservations."""
        if not self.active:
            raise InvalidStateError(f"warehouse {self.code}", "is already inactive")
        self._deactivated(reason=reason)

    @event("Deactivated")
    def _deactivated(self, reason: str) -> None:
        self.active = False

    def reactivate(self) -> None:
        """Use the warehouse again."""
        if self.active:
            raise InvalidStateError(f"warehouse {self.code}", "is already active")
        self._reactivated()

    @event("Reactivated")
    def _reactivated(self) -> None:
        self.active = True
