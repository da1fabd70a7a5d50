"""Supplier: who purchase orders go to."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow.values import named_id


class Supplier(Aggregate):
    """A supplier, identified by its code."""

    Registered: ClassVar[type[DomainEvent]]

    @staticmethod
    def create_id(code: str) -> UUID:
        return named_id(f"orderflow:supplier:{code}")

    @event("Registered")
    def __init__(
        self,
        code: str,
        name: str,
        contact: str,
        phone: str,
        email: str,
        tax_code: str,
        address: str,
        lead_time_days: int,
    ) -> None:
        """Register a supplier: name, contact, tax code (MST) and lead time."""
        self.code = code
        self.name = name
        self.contact = contact
        self.phone = phone
        self.email = email
        self.tax_code = tax_code
        self.address = address
        self.lead_time_days = lead_time_days

    def update(
        self, contact: str, phone: str, email: str, address: str, lead_time_days: int
    ) -> None:
        """Change the supplier's contact details or lead time (nothing recorded when unchanged)."""
        current = (self.contact, self.phone, self.email, self.address, self.lead_time_days)
        if (contact, phone, email, address, lead_time_days) == current:
            return
        self._updated(
            contact=contact,
            phone=phone,
            email=email,
            address=address,
            lead_time_days=lead_time_days,
        )

    @event("Updated")
    def _updated(
        self, contact: str, phone: str, email: str, address: str, lead_time_days: int
    ) -> None:
        self.contact, self.phone, self.email = contact, phone, email
        self.address, self.lead_time_days = address, lead_time_days
