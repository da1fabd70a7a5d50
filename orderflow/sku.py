"""Sku: the claim of one SKU by one product, so SKUs are unique and found fast."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow.values import named_id


class Sku(Aggregate):
    """Which product a SKU belongs to. Saved with the product that claims it."""

    Claimed: ClassVar[type[DomainEvent]]

    @staticmethod
    def create_id(sku: str) -> UUID:
        return named_id(f"orderflow:sku:{sku}")

    @event("Claimed")
    def __init__(self, sku: str, product_id: UUID, base_sku: str) -> None:
        """Claim a SKU for a product; no other product can claim it after."""
        self.sku = sku
        self.product_id = product_id
        self.base_sku = base_sku
